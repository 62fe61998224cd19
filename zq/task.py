"""``AsyncTaskiqTask``: the handle ``kiq()`` returns, to wait for and read a task's result."""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

from zq.backends import AsyncResultBackend, EmbeddedResultBackend
from zq.exceptions import ResultGetError, ResultIsReadyError, TaskiqResultTimeoutError
from zq.result import TaskiqResult

_ReturnType = TypeVar("_ReturnType")


class AsyncTaskiqTask(Generic[_ReturnType]):
    """A kicked task (taskiq's name and methods)."""

    __slots__ = ("result_backend", "return_type", "task_id")

    def __init__(
        self,
        task_id: str,
        result_backend: AsyncResultBackend[Any],
        return_type: type[_ReturnType] | None = None,
    ) -> None:
        self.task_id = task_id
        self.result_backend = result_backend
        self.return_type = return_type

    async def is_ready(self) -> bool:
        """Whether the result has arrived."""
        try:
            return await self.result_backend.is_result_ready(self.task_id)
        except Exception as exc:
            raise ResultIsReadyError() from exc

    async def get_result(self, with_logs: bool = False) -> TaskiqResult[_ReturnType]:
        """The result, which must have arrived (see ``wait_result``)."""
        try:
            return await self.result_backend.get_result(self.task_id, with_logs=with_logs)
        except Exception as exc:
            raise ResultGetError() from exc

    async def wait_result(
        self, check_interval: float = 0.2, timeout: float = -1.0, with_logs: bool = False
    ) -> TaskiqResult[_ReturnType]:
        """Wait for the result, at most ``timeout`` seconds (<= 0: forever).

        Raises ``TaskiqResultTimeoutError`` when the time is up.

        With zq's embedded backend the result is pushed: ``check_interval`` is accepted for
        taskiq compatibility and only used to poll a third-party backend.
        """
        backend = self.result_backend
        limit = timeout if timeout > 0 else None
        if isinstance(backend, EmbeddedResultBackend):
            try:
                return await asyncio.wait_for(backend.wait_for(self.task_id), limit)
            except TimeoutError:
                backend.give_up(self.task_id)
                raise TaskiqResultTimeoutError(timeout=timeout) from None
        try:
            async with asyncio.timeout(limit):
                while not await self.is_ready():  # noqa: ASYNC110 - third-party backend
                    await asyncio.sleep(check_interval)
        except TimeoutError:
            raise TaskiqResultTimeoutError(timeout=timeout) from None
        return await self.get_result(with_logs=with_logs)

    def __repr__(self) -> str:
        return f"AsyncTaskiqTask(task_id={self.task_id!r})"
