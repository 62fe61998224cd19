"""``AsyncResultBackend``: where results are kept (taskiq's interface and module path)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from zq.core.progress import TaskProgress
    from zq.result import TaskiqResult

_ReturnType = TypeVar("_ReturnType")


class AsyncResultBackend(ABC, Generic[_ReturnType]):
    """Where results are kept (taskiq's interface)."""

    async def startup(self) -> None:
        """Acquire resources."""

    async def shutdown(self) -> None:
        """Release resources."""

    @abstractmethod
    async def set_result(self, task_id: str, result: TaskiqResult[_ReturnType]) -> None:
        """Store the result of ``task_id``."""

    @abstractmethod
    async def is_result_ready(self, task_id: str) -> bool:
        """Whether ``task_id`` has a result."""

    @abstractmethod
    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[_ReturnType]:
        """The result of ``task_id``."""

    async def set_progress(self, task_id: str, progress: TaskProgress[Any]) -> None:
        """Store the progress of ``task_id`` (default: not kept)."""

    async def get_progress(self, task_id: str) -> TaskProgress[Any] | None:
        """The last progress of ``task_id`` (default: None)."""
        return None


__all__ = ["AsyncResultBackend"]
