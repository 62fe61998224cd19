"""The benchmark's task: a no-op, so that what is measured is zq itself.

``ZQ_BENCH_MIDDLEWARE=1`` adds a middleware that overrides no hook, to show that such hooks
cost nothing (they are skipped when the middleware is added, not checked per task).
"""

import os
from collections.abc import AsyncIterator

from zq import TaskiqMiddleware, ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555")
if os.environ.get("ZQ_BENCH_MIDDLEWARE"):
    broker.add_middlewares(TaskiqMiddleware())


@broker.task
async def noop() -> None:
    return None


@broker.task
async def sink(data: bytes) -> None:
    """A no-op that takes an argument of any size (``bench/throughput.py --payload``)."""
    return None


@broker.task
async def step(value: int | None = None) -> int:
    """A pipeline's no-op step: one more than what it was given (``bench/workflows.py``)."""
    return (value or 0) + 1


@broker.task
async def count(n: int) -> AsyncIterator[int]:
    """A stream of ``n`` small items (``bench/streams.py``)."""
    for i in range(n):
        yield i
