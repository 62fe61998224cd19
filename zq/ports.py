"""The way a running task talks back to its dispatcher: kick, progress, ack.

The executor (or ``InMemoryBroker``) gives the receiver a ``TaskPort`` for each task; the
receiver makes it current (a context variable) while the task runs, so that ``kiq()``,
``ProgressTracker`` and ``Context.ack()`` called inside the task reach the dispatcher that
leased it, even with several ``--connect`` addresses.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from zq.messages import TaskMsg


class TaskPort(Protocol):
    """What a task in flight can send back to the dispatcher that leased it."""

    async def submit(self, task: TaskMsg) -> None:
        """Kick ``task`` (a new one, or a retry of the running task under the same id)."""

    async def progress(self, task_id: str, payload: bytes) -> None:
        """Report progress of ``task_id`` (encoded ``TaskProgress``)."""

    async def ack(self, task_id: str) -> None:
        """End the lease of ``task_id`` now: it will not be redelivered."""


current_port: ContextVar[TaskPort | None] = ContextVar("zq_current_port", default=None)
