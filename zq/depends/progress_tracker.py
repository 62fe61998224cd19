"""``ProgressTracker``: a dependency with which a running task reports its progress."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from taskiq_dependencies import Depends

from zq.context import Context
from zq.core.progress import TaskProgress, TaskState

_ProgressType = TypeVar("_ProgressType")

__all__ = ["ProgressTracker", "TaskProgress", "TaskState"]


class ProgressTracker(Generic[_ProgressType]):
    """Ask for it with ``progress: ProgressTracker[int] = TaskiqDepends()``.

    ``set_progress`` is visible to the client (``task.get_progress()``) while the task runs.
    """

    def __init__(self, context: Context = Depends()) -> None:
        self.context = context

    async def set_progress(self, state: TaskState | str, meta: _ProgressType | None = None) -> None:
        """Report ``state`` (and ``meta``; if None, the previous meta is kept)."""
        if meta is None:
            previous = await self.get_progress()
            meta = previous.meta if previous is not None else None
        await self.context.broker.result_backend.set_progress(
            self.context.message.task_id, TaskProgress(state=state, meta=meta)
        )

    async def get_progress(self) -> TaskProgress[_ProgressType] | None:
        """The last progress this task reported, if any."""
        progress: Any = await self.context.broker.result_backend.get_progress(
            self.context.message.task_id
        )
        return progress  # type: ignore[no-any-return]
