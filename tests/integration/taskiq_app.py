"""Unchanged taskiq user code; only the broker line swaps to zq's taskiq broker.

Run by taskiq's own `taskiq worker` (tests/integration/test_taskiq_broker.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from taskiq import Context, TaskiqDepends

from zq.taskiq import ZeroMQBroker  # ported: the one changed line (was: a taskiq broker)

broker = ZeroMQBroker(os.environ.get("ZQ_ADDRESS", "tcp://127.0.0.1:5555"))
EXEC_LOG = Path(os.environ.get("EXEC_LOG", "exec.log"))


@broker.task
async def record(token: str, context: Context = TaskiqDepends()) -> str:
    """Append ``token`` and this process's pid to the execution log: the oracle."""
    with EXEC_LOG.open("a") as log:
        log.write(f"{token} {os.getpid()}\n")
    return context.message.task_id


@broker.task
async def fan_out(n: int) -> None:
    """Kick ``n`` tasks from inside a task (in the worker process)."""
    for i in range(n):
        await record.kiq(f"inner-{i}")
