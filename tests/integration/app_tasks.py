"""Tasks for the integration tests. They write their own execution log: the test oracle."""

import asyncio
import os
import threading
import time
from pathlib import Path

from zq import ZeroMQBroker

# Short liveness settings so that a killed worker is noticed quickly in tests.
broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


def _log(path: str, token: str, who: str | None = None) -> None:
    """Append ``token who`` (default: this pid) to the execution log at ``path``."""
    line = f"{token} {who or os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one O_APPEND write per line: lines never interleave
    finally:
        os.close(fd)


@broker.task
async def record(token: str, log_path: str) -> str:
    _log(log_path, token)
    return token


@broker.task
def sync_where(x: int) -> list[object]:
    return [x * 2, threading.current_thread().name]


@broker.task
async def fail(code: int) -> None:
    raise ValueError(f"failed with {code}")


@broker.task
async def hang_first_time(token: str, log_path: str, marker: str) -> str:
    """Logs, then hangs forever on its first delivery; returns on the next one."""
    _log(log_path, token)
    if not os.path.exists(marker):
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(marker + ".tmp", marker)  # atomic: the test never sees it half-written
        await asyncio.Event().wait()
    return token


@broker.task
async def wait_for_fifo(fifo: str, log_path: str) -> None:
    """Hold this worker's slot until the test writes to ``fifo`` (a named pipe)."""
    _log(log_path, "blocker")
    await asyncio.to_thread(Path(fifo).read_text)  # blocks until a writer opens it


@broker.task
async def record_held(token: str, log_path: str, fifo: str | None) -> str:
    """Log, then run until the test writes to ``fifo`` (a named pipe), if one is given."""
    _log(log_path, token)
    if fifo is not None:
        await asyncio.to_thread(Path(fifo).read_text)  # blocks until a writer opens it
    return f"{token} done"


@broker.task
async def span(i: int, log_path: str, seconds: float) -> None:
    """Log this run's start and end (monotonic ns, one clock for the host's processes)."""
    _log(log_path, f"start/{i}/{time.monotonic_ns()}")
    await asyncio.sleep(seconds)  # the work a task does (its span is what is measured)
    _log(log_path, f"end/{i}/{time.monotonic_ns()}")


@broker.task
async def stoppable(i: int, log_path: str, seconds: float) -> int:
    """Log start, end and ``finally`` lines (monotonic ns): a cancel leaves no end line."""
    _log(log_path, f"start/{i}/{time.monotonic_ns()}")
    try:
        await asyncio.sleep(seconds)  # the work a task does; a cancel interrupts it here
        _log(log_path, f"end/{i}/{time.monotonic_ns()}")
    finally:
        _log(log_path, f"finally/{i}/{time.monotonic_ns()}")
    return i


@broker.task
def sync_stoppable(log_path: str, seconds: float) -> int:
    """A sync task: log its pid, work ``seconds``, log its end."""
    _log(log_path, f"start/{os.getpid()}")
    time.sleep(seconds)  # the work a sync task does; only ending its process stops it
    _log(log_path, "end")
    return os.getpid()


@broker.task
async def canceller(task_id: str) -> str:
    """Cancels another task of the app, from inside a worker."""
    return await broker.cancel(task_id)
