"""Tasks for the workflow tests; each run appends a line to the execution log (the oracle)."""

import asyncio
import os
import random

from tests.execution_log import record
from zq import ZeroMQBroker
from zq.middlewares import SimpleRetryMiddleware

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
broker.add_middlewares(SimpleRetryMiddleware())  # for tasks labelled retry_on_error only


def _log(line: str) -> None:
    record("ZQ_WORKFLOW_LOG", line)


@broker.task
async def square(x: int) -> int:
    _log(f"square/{x}")
    await asyncio.sleep(random.random() / 500)  # finish out of order: the list keeps the kick order
    return x * x


@broker.task
async def add(x: int, y: int = 0) -> int:
    _log(f"add/{x}/{y}")
    return x + y


@broker.task
async def numbers(n: int) -> list[int]:
    _log(f"numbers/{n}")
    return list(range(n))


@broker.task
async def total(xs: list[int]) -> int:
    _log(f"total/{len(xs)}")
    return sum(xs)


@broker.task
async def gathered(results: list[int]) -> list[int]:
    """The fan-in callback: what it was given."""
    _log(f"gathered/{len(results)}")
    return results


@broker.task
async def broken(x: int) -> int:
    raise ValueError(f"member {x} broke")


@broker.task
async def slow(x: int) -> int:
    await asyncio.sleep(0.02)  # the work: long enough to be mid-map when the dispatcher dies
    _log(f"slow/{x}")
    return x * x


@broker.task
async def sleepy(x: int) -> int:
    """Starts, works 30 s (a cancel stops it there), ends: each logged."""
    _log(f"sleepy-start/{x}")
    try:
        await asyncio.sleep(30)  # the work a cancel interrupts
        _log(f"sleepy-end/{x}")
    finally:
        _log(f"sleepy-finally/{x}")
    return x


@broker.task(retry_on_error=True, max_retries=3)
async def flaky(x: int) -> int:
    """Fails its first run for each ``x`` (the log counts runs), then adds 10."""
    path = os.environ.get("ZQ_WORKFLOW_LOG", "")
    with open(path or os.devnull) as ran:
        before = sum(1 for line in ran if line.startswith(f"flaky/{x} ")) if path else 1
    _log(f"flaky/{x}")
    if before == 0:
        raise ValueError(f"flaky {x}: first run fails")
    return x + 10
