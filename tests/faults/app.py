"""The app the fault suite's workers run. Tasks write their own execution log: the oracle."""

from __future__ import annotations

import asyncio
import os

from tests.integration.app_tasks import _log
from zq import ZeroMQBroker

# Short liveness settings, so that a dead or frozen worker is noticed within about a second.
broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


@broker.task(task_name="work")
async def work(token: str, log_path: str, seconds: float = 0.0) -> str:
    """Does ``seconds`` of work, then logs that it ran to the end."""
    if seconds:
        await asyncio.sleep(seconds)  # the work a task does; tests never sleep
    _log(log_path, token)
    return token


@broker.task(task_name="noop")
async def noop(token: int, log_path: str) -> None:
    """The flood's task: only the log line."""
    _log(log_path, str(token))


@broker.task(task_name="poison", max_deliveries=3)
async def poison(log_path: str) -> None:
    """Kills the process that runs it, every time."""
    _log(log_path, "poison")
    os._exit(9)
