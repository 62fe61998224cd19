"""Result backends: taskiq's ``AsyncResultBackend`` interface, and zq's embedded one.

zq's default backend is the ResultStore actor inside the producer process: results are pushed
to it by the dispatcher, and ``wait_result`` is woken by it, never polling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from zq.actors.results import Peek, Put, ResultStore, Unwait, WaitAll, WaitFor
from zq.exceptions import ResultGetError
from zq.messages import ResultMsg
from zq.result import TaskiqResult
from zq.serializers.base import TaskiqSerializer

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


class EmbeddedResultBackend(AsyncResultBackend[Any]):
    """The producer's own ResultStore, with push-based waiting (``wait_for``, ``wait_all``)."""

    def __init__(self, store: ResultStore, serializer: TaskiqSerializer) -> None:
        self.store = store
        self.serializer = serializer

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Store a result produced outside the dispatcher (e.g. by a local execution)."""
        from zq.remote_errors import describe

        error = describe(result.error) if result.error is not None else None
        payload = b"" if result.is_err else self.serializer.dumpb(result.return_value)
        msg = ResultMsg(
            task_id, result.is_err, payload, result.execution_time, result.labels, error, result.log
        )
        await self.store.tell(Put([msg]))

    async def is_result_ready(self, task_id: str) -> bool:
        """Whether the store has a result for ``task_id``."""
        return await self.store.ask(Peek(task_id)) is not None

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        """The stored result; ``ResultGetError`` if there is none (yet)."""
        msg = await self.store.ask(Peek(task_id))
        if msg is None:
            raise ResultGetError()
        return TaskiqResult.from_message(msg, self.serializer)

    async def wait_for(self, task_id: str) -> TaskiqResult[Any]:
        """The result of ``task_id``, as soon as it arrives."""
        msg = await self.store.ask(WaitFor(task_id))
        return TaskiqResult.from_message(msg, self.serializer)

    async def wait_all(self, task_ids: list[str]) -> list[TaskiqResult[Any]]:
        """The results of ``task_ids`` in order, once all have arrived (one waiter in all)."""
        msgs = await self.store.ask(WaitAll(task_ids))
        serializer = self.serializer
        return [TaskiqResult.from_message(m, serializer) for m in msgs]

    def give_up(self, task_id: str) -> None:
        """A waiter for ``task_id`` timed out: let the store drop it."""
        if self.store.alive:
            self.store.tell_nowait(Unwait(task_id))
