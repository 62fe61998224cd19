"""Tasks for the security tests: each execution is logged with the name of the worker host."""

import os

from tests.integration.app_tasks import _log
from zq import ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


@broker.task
async def where(token: str, log_path: str) -> str:
    """Log ``token`` and the worker's name (``ZQ_TEST_WORKER``, set by the test)."""
    _log(log_path, token, os.environ.get("ZQ_TEST_WORKER", "?"))
    return token


@broker.task
async def echo(data: bytes) -> bytes:
    """Return ``data`` (a large result when ``data`` is large)."""
    return data
