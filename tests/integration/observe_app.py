"""Tasks for the observing tests: a flaky task that logs, a held task, a rejected one."""

import asyncio
import logging
import os

from zq import TaskRejectedError, ZeroMQBroker
from zq.middlewares import SimpleRetryMiddleware

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
broker.add_middlewares(SimpleRetryMiddleware())
log = logging.getLogger("observe_app")


@broker.task
async def flaky(log_path: str, fails: int) -> str:
    """Fails its first ``fails`` runs (counted in its own execution log), then succeeds."""
    with open(log_path, "a") as f:
        f.write(f"run {os.getpid()}\n")
    with open(log_path) as f:
        run = len(f.readlines())
    log.warning("flaky run %d begins", run)
    if run <= fails:
        raise ValueError(f"flaky run {run} fails")
    log.info("flaky run %d succeeds", run)
    return f"ok after {run} runs"


@broker.task
async def hold(seconds: float) -> None:
    """Holds a slot (the tests cancel it)."""
    await asyncio.sleep(seconds)  # the work this task does: occupying its slot


@broker.task
async def noop() -> None:
    """Nothing."""


@broker.task
async def refuse() -> None:
    """Rejected: it becomes a dead letter."""
    raise TaskRejectedError("not for us")


@broker.task
async def reject_once(log_path: str) -> str:
    """Rejected on its first run (a dead letter); a replay of it succeeds."""
    with open(log_path, "a") as f:
        f.write(f"run {os.getpid()}\n")
    with open(log_path) as f:
        if len(f.readlines()) == 1:
            raise TaskRejectedError("not yet")
    return "replayed"
