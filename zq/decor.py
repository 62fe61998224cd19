"""``AsyncTaskiqDecoratedTask``: what ``@broker.task`` returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from zq.kicker import AsyncKicker, portable_labels, send
from zq.streams import hold, is_generator
from zq.task import AsyncTaskiqTask

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker
    from zq.scheduler import CreatedSchedule, ScheduleSource

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
        return_type: Any = None,
    ) -> None:
        self.broker = broker
        self.task_name = task_name
        self.original_func = original_func
        self.labels = labels
        self.return_type = return_type
        self.is_async = inspect.iscoroutinefunction(original_func)
        # A generator: its items stream to the caller (zq.streams), kept for kiq()'s handle.
        self.streams = is_generator(original_func)
        self._wire_labels = portable_labels(labels)
        self.__name__ = getattr(original_func, "__name__", task_name)
        self.__qualname__ = getattr(original_func, "__qualname__", task_name)
        self.__doc__ = getattr(original_func, "__doc__", None)
        self.__module__ = getattr(original_func, "__module__", __name__)
        self.__wrapped__ = original_func

    def __call__(self, *args: _Params.args, **kwargs: _Params.kwargs) -> Any:
        """Run the function here, as if it were not a task."""
        return self.original_func(*args, **kwargs)

    async def kiq(
        self, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> AsyncTaskiqTask[_ReturnType]:
        """Send the task to a worker; returns a handle to its result."""
        broker = self.broker
        admission = broker.admission()  # wait for room here: a waiting call holds least
        if admission is not None and not admission.try_enter():
            place = admission.queue()
            try:  # awaiting the future itself: a waiting kiq() holds no frame of zq's
                await place
            except BaseException:
                admission.gave_up(place)
                raise
        task_id = await send(
            broker,
            self.task_name,
            self.labels,
            None,
            args,
            kwargs,
            wire_labels=self._wire_labels,
            admitted=admission,
        )
        handle: AsyncTaskiqTask[_ReturnType] = AsyncTaskiqTask(
            task_id, broker.result_backend, self.return_type, kicked=True, broker=broker
        )
        if self.streams:
            hold(broker, task_id, handle)
        return handle

    def kicker(self) -> AsyncKicker[_Params, _ReturnType]:
        """A kicker, to set labels, a task id or another broker for one kick."""
        return AsyncKicker(self.task_name, self.broker, self.labels, self.return_type)

    async def schedule_by_cron(
        self, source: ScheduleSource, cron: str, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> CreatedSchedule[_ReturnType]:
        """Add a cron schedule to ``source`` (see ``AsyncKicker.schedule_by_cron``)."""
        return await self.kicker().schedule_by_cron(source, cron, *args, **kwargs)

    async def schedule_by_interval(
        self,
        source: ScheduleSource,
        interval: int | timedelta,
        *args: _Params.args,
        **kwargs: _Params.kwargs,
    ) -> CreatedSchedule[_ReturnType]:
        """Add a schedule that runs every ``interval`` seconds to ``source``."""
        return await self.kicker().schedule_by_interval(source, interval, *args, **kwargs)

    async def schedule_by_time(
        self, source: ScheduleSource, time: datetime, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> CreatedSchedule[_ReturnType]:
        """Add a one-off run at ``time`` to ``source``."""
        return await self.kicker().schedule_by_time(source, time, *args, **kwargs)

    def __repr__(self) -> str:
        return f"AsyncTaskiqDecoratedTask({self.task_name})"
