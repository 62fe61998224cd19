"""``AsyncTaskiqDecoratedTask``: what ``@broker.task`` returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from zq.kicker import AsyncKicker, build_message
from zq.task import AsyncTaskiqTask

if TYPE_CHECKING:
    from zq.broker import AsyncBroker

_Params = ParamSpec("_Params")
_ReturnType = TypeVar("_ReturnType")


class AsyncTaskiqDecoratedTask(Generic[_Params, _ReturnType]):
    """A registered task: call it to run it here, ``kiq`` it to run it on a worker."""

    def __init__(
        self,
        broker: AsyncBroker,
        task_name: str,
        original_func: Callable[_Params, Any],
        labels: dict[str, Any],
        return_type: type[_ReturnType] | None = None,
    ) -> None:
        self.broker = broker
        self.task_name = task_name
        self.original_func = original_func
        self.labels = labels
        self.return_type = return_type
        self.is_async = inspect.iscoroutinefunction(original_func)
        self.__name__ = getattr(original_func, "__name__", task_name)
        self.__doc__ = getattr(original_func, "__doc__", None)

    def __call__(self, *args: _Params.args, **kwargs: _Params.kwargs) -> Any:
        """Run the function here, as if it were not a task."""
        return self.original_func(*args, **kwargs)

    async def kiq(
        self, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> AsyncTaskiqTask[_ReturnType]:
        """Send the task to a worker; returns a handle to its result."""
        broker = self.broker
        message = build_message(broker, self.task_name, dict(self.labels), None, args, kwargs)
        await broker.kick(message)
        return AsyncTaskiqTask(message.task_id, broker.result_backend, self.return_type)

    def kicker(self) -> AsyncKicker[_Params, _ReturnType]:
        """A kicker, to set labels, a task id or another broker for one kick."""
        return AsyncKicker(self.task_name, self.broker, dict(self.labels), self.return_type)

    def __repr__(self) -> str:
        return f"AsyncTaskiqDecoratedTask({self.task_name})"
