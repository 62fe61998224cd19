"""A producer that binds the dispatcher, and real `zq worker` processes for it (the benchmarks').

``async with served(workers, task, ...) as producer:`` binds ``tcp://127.0.0.1:*``, points the
given decorated tasks of ``bench.tasks`` at it, starts ``zq worker bench.tasks:broker -w
workers`` and waits until they joined; at the end it stops the worker (SIGINT) and the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.tasks import broker
from zq import ZeroMQBroker

ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def served(workers: int, *tasks: Any) -> AsyncIterator[ZeroMQBroker]:
    """The producer, once ``workers`` worker processes joined it (see the module)."""
    producer = ZeroMQBroker("tcp://127.0.0.1:*")
    producer.available_tasks = broker.available_tasks
    await producer.startup()
    for task in tasks:
        task.broker = producer
    cmd = [sys.executable, "-m", "zq", "worker", "bench.tasks:broker", "-w", str(workers),
           "--connect", producer.endpoint, "--log-level", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        await asyncio.wait_for(producer.wait_workers(workers), 30)
        yield producer
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 30)
        await producer.shutdown()
