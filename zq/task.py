"""``AsyncTaskiqTask``: the handle ``kiq()`` returns, to wait for and read a task's result."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from zq.abc.result_backend import AsyncResultBackend
from zq.core.casting import cast_result
from zq.exceptions import ResultGetError, ResultIsReadyError, TaskiqResultTimeoutError
from zq.result import TaskiqResult
from zq.result_backends.embedded import EmbeddedResultBackend, failed_save
from zq.streams import TaskStream

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker
    from zq.core.messages import CancelOutcome
    from zq.core.progress import TaskProgress

_ReturnType = TypeVar("_ReturnType")


class AsyncTaskiqTask(Generic[_ReturnType]):
    """A kicked task (taskiq's name and methods).

    It can also be built from a task id alone, in any process of the app:
    ``AsyncTaskiqTask(task_id, broker.result_backend)``; zq then asks the dispatcher for the
    result.
    """

    __slots__ = ("__weakref__", "broker", "kicked_here", "result_backend", "return_type", "task_id")

    def __init__(
        self,
        task_id: str,
        result_backend: AsyncResultBackend[Any],
        return_type: Any = None,
        *,
        kicked: bool = False,
        broker: AsyncBroker | None = None,
    ) -> None:
        self.task_id = task_id
        self.broker = broker  # what ``cancel`` asks; set by ``kiq()``
        self.result_backend = result_backend
        self.return_type = return_type
        # Kicked by this process: its result comes here by itself (else it is fetched).
        self.kicked_here = kicked

    async def is_ready(self) -> bool:
        """Whether the result has arrived."""
        try:
            return await self.result_backend.is_result_ready(self.task_id)
        except Exception as exc:
            raise ResultIsReadyError() from exc

    async def cancel(self) -> CancelOutcome:
        """Cancel the task (a zq extension); ``wait_result`` then gives ``TaskCancelledError``.

        Returns ``"cancelled"`` (it had not started), ``"cancelling"`` (it runs and is being
        stopped), ``"finished"`` or ``"unknown"``; see ``AsyncBroker.cancel``.
        """
        if self.broker is None:
            raise TypeError(
                "this handle was not returned by kiq() and does not know its broker: "
                "call `await broker.cancel(task_id)`"
            )
        return await self.broker.cancel(self.task_id)

    async def get_result(self, with_logs: bool = False) -> TaskiqResult[_ReturnType]:
        """The result, which must have arrived (see ``wait_result``)."""
        try:
            result = await self.result_backend.get_result(self.task_id, with_logs=with_logs)
        except Exception as exc:
            raise ResultGetError() from exc
        return self._cast(result)

    async def get_progress(self) -> TaskProgress[Any] | None:
        """The last progress the task reported (``ProgressTracker``), or None."""
        return await self.result_backend.get_progress(self.task_id)

    async def wait_progress(
        self, seen: TaskProgress[Any] | None = None, timeout: float = -1.0
    ) -> TaskProgress[Any]:
        """Wait until the task reports progress other than ``seen`` (a zq extension).

        Pushed, never polled, with zq's embedded backend (a long poll for a web endpoint);
        raises ``TaskiqResultTimeoutError`` after ``timeout`` seconds (<= 0: no limit).
        """
        backend = self.result_backend
        if not isinstance(backend, EmbeddedResultBackend):
            raise NotImplementedError("wait_progress needs zq's embedded result backend")
        waiting = backend.wait_progress(self.task_id, seen, fetch=not self.kicked_here)
        try:
            return await asyncio.wait_for(waiting, timeout if timeout > 0 else None)
        except TimeoutError:
            raise TaskiqResultTimeoutError(timeout=timeout) from None

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
            try:  # (the store times the wait: no scope, no task of its own)
                fetch = not self.kicked_here
                return await backend.wait_for(
                    self.task_id, self.return_type, fetch=fetch, timeout=limit
                )
            except TimeoutError:
                backend.give_up(self.task_id)
                raise TaskiqResultTimeoutError(timeout=timeout) from None
        try:
            async with asyncio.timeout(limit):
                while not await self.is_ready():
                    failed = failed_save(backend, self.task_id)
                    if failed is not None:  # it will never be ready there
                        return failed
                    await asyncio.sleep(check_interval)
        except TimeoutError:
            raise TaskiqResultTimeoutError(timeout=timeout) from None
        return await self.get_result(with_logs=with_logs)

    def stream(self) -> TaskStream[Any]:
        """The items of a generator task, as it yields them (a zq extension; ``zq.streams``).

        ``async for item in handle.stream(): ...`` ends when the task does, and raises its
        error if it failed; the stream's ``result`` is then the task's result.
        """
        return TaskStream(self)

    def _cast(self, result: TaskiqResult[Any]) -> TaskiqResult[_ReturnType]:
        if not isinstance(result, TaskiqResult):  # a backend written for taskiq returns its own
            result = TaskiqResult.model_validate(result)
        if not result.is_err:
            result.return_value = cast_result(self.return_type, result.return_value, self.task_id)
        return result

    def __repr__(self) -> str:
        return f"AsyncTaskiqTask(task_id={self.task_id!r})"
