"""Generator tasks for the stream tests; their runs append to the execution log (the oracle)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

from taskiq_dependencies import Depends

from tests.execution_log import record
from zq import ZeroMQBroker
from zq.depends.progress_tracker import ProgressTracker, TaskState

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


def _log(line: str) -> None:
    record("ZQ_STREAM_LOG", line)


def rss_kib() -> int:
    """This process's resident set size in KiB (from /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@broker.task
async def rows(n: int, every: int = 10_000, pad: int = 40) -> AsyncIterator[list[Any]]:
    """``n`` small items ``[i, rss, padding]``: every ``every``-th has the worker's RSS (KiB)."""
    _log(f"rows/{n}")
    for i in range(n):
        yield [i, rss_kib() if i % every == 0 else 0, "x" * pad]
    _log(f"rows-done/{n}")


@broker.task
def numbers(n: int) -> Generator[int, None, str]:
    """A sync generator (it runs in a thread) with a return value: the task's result."""
    _log(f"numbers/{n}")
    yield from range(n)
    return f"{n} numbers"


@broker.task
async def breaks(after: int) -> AsyncIterator[int]:
    """Yields ``after`` items, then fails."""
    for i in range(after):
        yield i
    raise ValueError(f"broke after {after}")


@broker.task
async def reads(n: int) -> int:
    """A task that reads another task's stream (the reader is in a worker)."""
    handle = await rows.kiq(n)
    total = 0
    async for item in handle.stream():
        total += item[0]
    return total


@broker.task
async def tracked(n: int, tracker: ProgressTracker[int] = Depends()) -> AsyncIterator[int]:
    """Reports its progress as it streams (``ProgressTracker`` in a generator task)."""
    for i in range(n):
        await tracker.set_progress(TaskState.STARTED, i)
        yield i
