"""The test bed's app: each run of ``work`` appends ``work/<i> <pid> <time>`` to the log."""

from __future__ import annotations

import asyncio
import os
import time

from zq import ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


@broker.task
async def work(i: int, seconds: float = 0.0) -> int:
    path = os.environ.get("ZQ_LAN_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"work/{i} {os.getpid()} {time.time():.3f}\n".encode())
        finally:
            os.close(fd)
    if seconds:
        await asyncio.sleep(seconds)  # the work itself
    return i
