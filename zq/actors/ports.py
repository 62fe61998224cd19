"""Between the executor and the code it runs: ``TaskRunner``, and ``TaskPort`` back out.

A running task talks back to its dispatcher (kick, progress, ack) through its port.

The executor (or ``InMemoryBroker``) gives the receiver a ``TaskPort`` for each task; the
receiver makes it current (a context variable) while the task runs, so that ``kiq()``,
``ProgressTracker`` and ``Context.ack()`` called inside the task reach the dispatcher that
leased it, even with several ``--connect`` addresses.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from zq.core.messages import CancelOutcome, ResultMsg, TaskMsg


class StreamSink(Protocol):
    """Where a generator task's items go (``zq.actors.streams.StreamWriter``)."""

    async def put(self, payload: bytes) -> None:
        """Send one encoded item; waits while the reader is a window behind."""

    def put_threadsafe(self, payload: bytes) -> None:
        """``put`` from a sync generator's thread (blocks it while the window is full)."""

    async def finish(self) -> None:
        """Wait until the reader has taken every item (the result goes after them)."""

    def close(self) -> None:
        """The task ended: no more items."""


class TaskPort(Protocol):
    """What a task in flight can send back to the dispatcher that leased it."""

    async def submit(self, task: TaskMsg) -> None:
        """Kick ``task`` (a new one, or a retry of the running task under the same id)."""

    async def progress(self, task_id: str, payload: bytes) -> None:
        """Report progress of ``task_id`` (encoded ``TaskProgress``)."""

    async def ack(self, task_id: str) -> None:
        """End the lease of ``task_id`` now: it will not be redelivered."""

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Cancel these tasks (any of the app's); the dispatcher's outcome for each."""
        ...

    def open_stream(self, task_id: str, window: int) -> StreamSink:
        """A stream for the items of ``task_id`` (a generator task), ``window`` in flight."""
        ...


class TaskRunner(Protocol):
    """What an executor runs its tasks with (``zq.receiver.Receiver``, or a test's stand-in).

    The executor never imports the API layer: it is handed one of these.
    """

    def startup(self) -> None:
        """Acquire what running needs (pools); called when the executor starts."""

    def shutdown(self) -> None:
        """Release it; called when the executor stops."""

    async def run(self, task: TaskMsg, port: TaskPort | None = None) -> ResultMsg:
        """Run one task to its result; never raises for the task's own failure."""
        ...

    def task_names(self) -> list[str]:
        """The names of the tasks it can run (said in ``Hello``)."""
        ...


current_port: ContextVar[TaskPort | None] = ContextVar("zq_current_port", default=None)


class _Recent:
    """A set that keeps only the ``size`` most recently added items."""

    def __init__(self, size: int) -> None:
        self._items: dict[str, None] = {}
        self._size = size

    def add(self, item: str) -> None:
        self._items[item] = None
        if len(self._items) > self._size:
            del self._items[next(iter(self._items))]

    def __contains__(self, item: object) -> bool:
        return item in self._items


# Ids of running tasks this process was asked to cancel: a sync task in a thread cannot be
# stopped, it can only look (``Context.cancelled``), so an id stays here after its slot moved on.
cancel_requested = _Recent(10_000)
