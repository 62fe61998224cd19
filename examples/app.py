"""The example app: what `zq worker examples.app:broker` runs and the demo kicks."""

import os

from zq import ZeroMQBroker

broker = ZeroMQBroker(address=os.environ.get("ZQ_ADDRESS", "tcp://127.0.0.1:5555"))


@broker.task
async def add(a: int, b: int) -> int:
    return a + b


@broker.task
def slow_sync(x: int) -> int:  # sync tasks run in the worker's thread pool
    return x * 2
