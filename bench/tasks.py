"""The benchmark's task: a no-op, so that what is measured is zq itself."""

from zq import ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555")


@broker.task
async def noop() -> None:
    return None
