"""The test bed's app: each run of ``work`` appends ``work/<i> <pid> <time>`` to the log."""

from __future__ import annotations

import asyncio
import json
import os
import time

from tests.execution_log import record
from zq import ZeroMQBroker

# ZQ_LAN_ROUTES: the app's routed queues, as JSON ({"b": "tcp://10.77.0.2:5600"})
broker = ZeroMQBroker(
    os.environ.get("ZQ_LAN_ADDRESS", "tcp://127.0.0.1:5555"),
    heartbeat_s=0.2,
    liveness_timeout_s=1.0,
    routes=json.loads(os.environ.get("ZQ_LAN_ROUTES", "{}")),
)


@broker.task
async def work(i: int, seconds: float = 0.0) -> int:
    record("ZQ_LAN_LOG", f"work/{i}", f"{time.time():.3f}")
    if seconds:
        await asyncio.sleep(seconds)  # the work itself
    return i
