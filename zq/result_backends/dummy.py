"""``DummyResultBackend``: keeps nothing (taskiq's ``taskiq.result_backends.dummy``)."""

from __future__ import annotations

from typing import Any

from zq.abc.result_backend import AsyncResultBackend
from zq.result import TaskiqResult

__all__ = ["DummyResultBackend"]


class DummyResultBackend(AsyncResultBackend[Any]):
    """Drops every result; each one reads as ready, with no value (as taskiq's)."""

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Drop it."""

    async def is_result_ready(self, task_id: str) -> bool:
        """Always ready: there is nothing to wait for."""
        return True

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        """An empty, successful result."""
        return TaskiqResult(is_err=False, return_value=None, execution_time=0.0)
