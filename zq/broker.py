"""``AsyncBroker``: the task registry and the producer's API, shared by every zq broker."""

from __future__ import annotations

import inspect
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Self, TypeVar, overload

from zq.backends import AsyncResultBackend
from zq.decor import AsyncTaskiqDecoratedTask
from zq.exceptions import SendTaskError
from zq.messages import TaskMsg
from zq.serializers.base import TaskiqSerializer
from zq.serializers.msgpack import MSGPackSerializer

_T = TypeVar("_T")


def default_id_generator() -> str:
    """A random task id (taskiq's format: 32 hex digits)."""
    return uuid.uuid4().hex


class _NoBackend(AsyncResultBackend[Any]):
    """Stands in until ``startup``: any use says what to do."""

    def _fail(self) -> SendTaskError:
        return SendTaskError(
            "the broker is not started: `await broker.startup()` or `async with broker:` first"
        )

    async def set_result(self, task_id: str, result: Any) -> None:
        raise self._fail()

    async def is_result_ready(self, task_id: str) -> bool:
        raise self._fail()

    async def get_result(self, task_id: str, with_logs: bool = False) -> Any:
        raise self._fail()


class AsyncBroker(ABC):
    """Registry of tasks plus the way to send them; subclasses implement ``kick``."""

    def __init__(self) -> None:
        self.available_tasks: dict[str, AsyncTaskiqDecoratedTask[Any, Any]] = {}
        self.serializer: TaskiqSerializer = MSGPackSerializer()
        self.result_backend: AsyncResultBackend[Any] = _NoBackend()
        self.id_generator: Callable[[], str] = default_id_generator
        self.is_worker_process = False
        self.started = False

    # --- registry -------------------------------------------------------------------------

    @overload
    def task(self, task_name: Callable[..., _T]) -> AsyncTaskiqDecoratedTask[Any, _T]: ...

    @overload
    def task(
        self, task_name: str | None = None, **labels: Any
    ) -> Callable[[Callable[..., _T]], AsyncTaskiqDecoratedTask[Any, _T]]: ...

    def task(self, task_name: Any = None, **labels: Any) -> Any:
        """Register a task.

        As ``@broker.task``, ``@broker.task()`` or ``@broker.task("name", **labels)``.
        """
        if callable(task_name):
            return self.register_task(task_name)

        def decorate(func: Callable[..., _T]) -> AsyncTaskiqDecoratedTask[Any, _T]:
            return self.register_task(func, task_name, **labels)

        return decorate

    def register_task(
        self, func: Callable[..., _T], task_name: str | None = None, **labels: Any
    ) -> AsyncTaskiqDecoratedTask[Any, _T]:
        """Register ``func`` under ``task_name`` (default ``module:function``)."""
        name = task_name or f"{func.__module__}:{func.__name__}"
        return_type = inspect.signature(func).return_annotation
        if return_type is inspect.Signature.empty:
            return_type = None
        decorated: AsyncTaskiqDecoratedTask[Any, _T] = AsyncTaskiqDecoratedTask(
            self, name, func, labels, return_type
        )
        self.available_tasks[name] = decorated
        return decorated

    def find_task(self, task_name: str) -> AsyncTaskiqDecoratedTask[Any, Any] | None:
        """The registered task of that name, or None."""
        return self.available_tasks.get(task_name)

    def get_all_tasks(self) -> dict[str, AsyncTaskiqDecoratedTask[Any, Any]]:
        """Every registered task, by name."""
        return dict(self.available_tasks)

    # --- configuration --------------------------------------------------------------------

    def with_serializer(self, serializer: TaskiqSerializer) -> Self:
        """Use ``serializer`` for arguments and results (workers must use the same)."""
        self.serializer = serializer
        return self

    def with_id_generator(self, generator: Callable[[], str]) -> Self:
        """Generate task ids with ``generator``."""
        self.id_generator = generator
        return self

    # --- lifecycle ------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the broker (in a producer: its dispatcher and result store)."""
        self.started = True

    async def shutdown(self) -> None:
        """Stop the broker."""
        self.started = False

    async def __aenter__(self) -> Self:
        await self.startup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    @abstractmethod
    async def kick(self, message: TaskMsg) -> None:
        """Hand one task to the queue."""
