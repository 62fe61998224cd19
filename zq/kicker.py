"""``AsyncKicker``: one kick with extra labels, a chosen task id, or another broker."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar

from zq.abc.middleware import call_hooks, pipe_hooks
from zq.abc.schedule_source import CronSpec, ScheduledTask, ScheduleSource
from zq.core import labels as zq_labels
from zq.core.codec import portable
from zq.core.messages import TaskMsg
from zq.exceptions import SendTaskError
from zq.message import TaskiqMessage
from zq.streams import hold
from zq.task import AsyncTaskiqTask

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker
    from zq.actors.admission import Admission

_Params = ParamSpec("_Params")
_ReturnType = TypeVar("_ReturnType")
_R = TypeVar("_R")

DEFAULT_QUEUE = "default"


_ZQ_DIR = os.path.dirname(os.path.abspath(__file__))


def check_labels(labels: dict[str, Any], what: str) -> None:
    """Check zq's own labels where the user wrote them; the error names the label and the line.

    ``what`` says which call it was (``@broker.task(...)``, ``with_labels(...)``).
    """
    try:
        zq_labels.check(labels)
    except zq_labels.LabelError as exc:
        raise zq_labels.LabelError(f"{what} at {_call_site()}: {exc}") from None


def _call_site() -> str:
    """``file:line`` of the first frame outside zq: the user's code that made the call."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_ZQ_DIR + os.sep):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def portable_labels(labels: dict[str, Any]) -> dict[str, Any]:
    """The labels that can travel (msgpack keeps their types).

    Others stay on the worker's own copy of the task (e.g. ``types_of_exceptions``).
    """
    out = {}
    for key, value in labels.items():
        # "schedule": the scheduler reads it from the task; no use on the wire
        if key != "schedule" and portable(value):
            out[key] = value
    return out


def to_wire(
    broker: AsyncBroker,
    task_id: str,
    task_name: str,
    labels: dict[str, Any],
    args: tuple[Any, ...] | list[Any],
    kwargs: dict[str, Any],
    wire_labels: dict[str, Any] | None = None,
) -> TaskMsg:
    """The wire message for one kick (``wire_labels``: ``labels`` already known portable)."""
    return TaskMsg(
        task_id,
        task_name,
        encode_args(broker, tuple(args), kwargs),
        portable_labels(labels) if wire_labels is None else wire_labels,
        str(labels.get("queue", DEFAULT_QUEUE)),
    )


def encode_args(broker: AsyncBroker, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """Arguments encoded once, by the broker's serializer; a clear error if they cannot be."""
    try:
        return broker.serializer.dumpb([args, kwargs])
    except (TypeError, ValueError, OverflowError) as exc:
        serializer = type(broker.serializer).__name__
        raise SendTaskError(
            f"cannot encode {_culprit(broker, args, kwargs)} with {serializer}: {exc}"
        ) from exc


def _culprit(broker: AsyncBroker, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Which argument the serializer refuses (tried one by one, only once encoding failed)."""
    named = [(f"argument {i}", v) for i, v in enumerate(args)] + [
        (f"argument {k!r}", v) for k, v in kwargs.items()
    ]
    for what, value in named:
        try:
            broker.serializer.dumpb(value)
        except Exception:
            return f"{what} (of type {type(value).__qualname__})"
    return "the arguments"


async def send(
    broker: AsyncBroker,
    task_name: str,
    labels: dict[str, Any],
    task_id: str | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    wire_labels: dict[str, Any] | None = None,
    admitted: Admission | None = None,
) -> str:
    """Kick one task through ``broker`` with its send middlewares; returns the task id.

    ``wire_labels``, when given, are ``labels`` already checked to be portable (the fast path
    of a task's own labels).
    """
    # Room first (a bounded broker's ``max_pending``): a call that waits holds only its
    # arguments, not their encoding; ``kick_admitted`` then hands over the message.
    # ``admitted``: the caller took the place already (``kiq()``: one frame less per waiter).
    admission = admitted
    if admission is None:
        admission = broker.admission()
        if admission is not None:
            await admission.enter()
    pre, post = broker.hooks["pre_send"], broker.hooks["post_send"]
    try:
        if task_id is None:
            unique = zq_labels.unique_id(task_name, labels) if "unique_key" in labels else None
            if unique is not None:  # the same id: the dispatcher keeps one while it is held
                # a result of an earlier, finished run (kept within its unique_for)
                broker.forget_result(unique, zq_labels.unique_for_s(labels))
            task_id = unique or broker.id_generator()
        if not pre and not post:  # the hot path: no TaskiqMessage at all
            wire = to_wire(broker, task_id, task_name, labels, args, kwargs, wire_labels)
        else:
            message = await before_send(pre, task_id, task_name, labels, args, kwargs)
            task_id = message.task_id
            wire = to_wire(
                broker, task_id, message.task_name, message.labels, message.args, message.kwargs
            )
    except BaseException:
        if admission is not None:
            admission.leave()  # nothing was handed over: give the place back
        raise
    if admission is None:
        await broker.kick(wire)
    else:
        await broker.kick_admitted(wire)
    if post:
        await call_hooks(reversed(post), "post_send", message)
    return task_id


async def before_send(
    pre: list[Any],
    task_id: str,
    task_name: str,
    labels: dict[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> TaskiqMessage:
    """The message the ``pre_send`` hooks make of one kick (each may replace it)."""
    message = TaskiqMessage(
        task_id=task_id, task_name=task_name, labels=dict(labels), args=list(args), kwargs=kwargs
    )
    piped: TaskiqMessage = await pipe_hooks(pre, "pre_send", message)
    return piped


class AsyncKicker(Generic[_Params, _ReturnType]):
    """Builder for one kick; its labels are a copy, so nothing leaks into the task."""

    def __init__(
        self,
        task_name: str,
        broker: AsyncBroker,
        labels: dict[str, Any],
        return_type: Any = None,
    ) -> None:
        self.task_name = task_name
        self.broker = broker
        self.labels = dict(labels)
        self.custom_task_id: str | None = None
        self.custom_schedule_id: str | None = None
        self.return_type = return_type

    def with_labels(self, **labels: Any) -> Self:
        """Add labels for this kick only (zq's own are checked here: ``zq.core.labels``)."""
        check_labels(labels, "with_labels(...)")
        self.labels.update(labels)
        return self

    def depends_on(self, *tasks: AsyncTaskiqTask[Any] | str) -> Self:
        """Run only once these tasks (handles or ids) have succeeded.

        If one fails or is cancelled, this one never runs and its caller gets
        ``DependencyFailedError``. The dispatcher holds it meanwhile (``explain`` says for
        what); nothing polls.
        """
        ids = [t if isinstance(t, str) else t.task_id for t in tasks]
        return self.with_labels(depends_on=[*self.labels.get("depends_on", []), *ids])

    def with_task_id(self, task_id: str | None) -> Self:
        """Use this task id instead of a generated one."""
        self.custom_task_id = task_id
        return self

    def with_schedule_id(self, schedule_id: str) -> Self:
        """Name the schedule that ``schedule_by_*`` creates."""
        self.custom_schedule_id = schedule_id
        return self

    def with_broker(self, broker: AsyncBroker) -> Self:
        """Kick through another broker."""
        self.broker = broker
        return self

    async def kiq(
        self, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> AsyncTaskiqTask[_ReturnType]:
        """Send the task; returns a handle to its result."""
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
            self.custom_task_id,
            args,
            kwargs,
            admitted=admission,
        )
        handle: AsyncTaskiqTask[_ReturnType] = AsyncTaskiqTask(
            task_id, broker.result_backend, self.return_type, kicked=True, broker=broker
        )
        found = broker.find_task(self.task_name)
        if found is not None and getattr(found, "streams", False):  # a generator (zq.streams)
            hold(broker, task_id, handle)
        return handle

    async def schedule_by_cron(
        self,
        source: ScheduleSource,
        cron: str | CronSpec,
        *args: _Params.args,
        **kwargs: _Params.kwargs,
    ) -> CreatedSchedule[_ReturnType]:
        """Add a cron schedule to ``source`` (5 fields, or 6 with seconds last; UTC).

        A ``CronSpec`` gives the fields one by one, and its ``offset`` the time zone.
        """
        if isinstance(cron, CronSpec):
            return await create_schedule(
                self, source, args, kwargs, cron=cron.to_cron(), cron_offset=cron.offset
            )
        return await create_schedule(self, source, args, kwargs, cron=cron)

    async def schedule_by_interval(
        self,
        source: ScheduleSource,
        interval: int | timedelta,
        *args: _Params.args,
        **kwargs: _Params.kwargs,
    ) -> CreatedSchedule[_ReturnType]:
        """Add a schedule that runs every ``interval`` (whole seconds, at least 1)."""
        return await create_schedule(self, source, args, kwargs, interval=interval)

    async def schedule_by_time(
        self,
        source: ScheduleSource,
        time: datetime,
        *args: _Params.args,
        **kwargs: _Params.kwargs,
    ) -> CreatedSchedule[_ReturnType]:
        """Add a one-off run at ``time`` (a naive datetime is UTC)."""
        return await create_schedule(self, source, args, kwargs, time=time)


class CreatedSchedule(Generic[_R]):
    """A schedule that ``schedule_by_*`` added to a source."""

    def __init__(self, kicker: AsyncKicker[Any, _R], source: ScheduleSource, task: ScheduledTask):
        self.kicker = kicker
        self.source = source
        self.task = task
        self.schedule_id = task.schedule_id

    async def kiq(self) -> AsyncTaskiqTask[_R]:
        """Kick the task now, outside the schedule."""
        return await self.kicker.kiq(*self.task.args, **self.task.kwargs)

    async def unschedule(self) -> None:
        """Delete the schedule from its source."""
        await self.source.delete_schedule(self.schedule_id)

    def __str__(self) -> str:
        return (
            f"CreatedSchedule<id={self.schedule_id}, {self.task.describe()}, {self.task.task_name}>"
        )


async def create_schedule(
    kicker: AsyncKicker[Any, _R],
    source: ScheduleSource,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    **when: Any,
) -> CreatedSchedule[_R]:
    """What ``schedule_by_cron/interval/time`` share: build, add to ``source``, wrap."""
    scheduled = ScheduledTask(
        task_name=kicker.task_name,
        labels=dict(kicker.labels),
        args=list(args),
        kwargs=dict(kwargs),
        task_id=kicker.custom_task_id,
        schedule_id=kicker.custom_schedule_id or kicker.broker.id_generator(),
        **when,
    )
    await source.add_schedule(scheduled)
    return CreatedSchedule(kicker, source, scheduled)
