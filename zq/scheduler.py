"""taskiq's scheduler API: schedules, their sources, and the object ``zq scheduler`` runs.

``ScheduledTask``, ``ScheduleSource``, ``LabelScheduleSource``, ``TaskiqScheduler`` and
``CreatedSchedule`` (what ``task.schedule_by_cron(...)`` returns).

What zq adds: each run is kicked under a task id derived from the schedule and the slot
(``zq.schedule.run_id``), with the label ``schedule_id``; the dispatcher drops a second kick of
the same run, so two schedulers side by side give one execution per slot. ``missed`` on a
schedule says what happens to slots that passed while no scheduler ran ("once", "all",
"skip"). The slot that fired last is persisted (see ``zq.schedule_store``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from zq.exceptions import TaskiqError
from zq.schedule import MISSED_POLICIES, Slot, Timetable, run_id

if TYPE_CHECKING:
    from zq.broker import AsyncBroker
    from zq.kicker import AsyncKicker
    from zq.task import AsyncTaskiqTask

log = logging.getLogger("zq.scheduler")

_R = TypeVar("_R")


class ScheduledTaskCancelledError(TaskiqError):
    """Raised by ``ScheduleSource.pre_send`` to skip this run of the schedule."""


@dataclass
class ScheduledTask:
    """One schedule: what to kick (task, labels, arguments), and when.

    When: exactly one of ``cron`` (with an optional ``cron_offset``), ``interval`` in
    seconds, or ``time``.
    """

    task_name: str
    labels: dict[str, Any] = field(default_factory=dict)
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None
    schedule_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    cron: str | None = None
    cron_offset: str | timedelta | None = None
    time: datetime | None = None
    interval: int | timedelta | None = None
    missed: str = "once"  # zq: what happens to slots missed while no scheduler ran

    def __post_init__(self) -> None:
        if self.missed not in MISSED_POLICIES:
            raise ValueError(f"missed must be one of {MISSED_POLICIES}, got {self.missed!r}")
        self._timetable = Timetable(
            cron=self.cron, cron_offset=self.cron_offset, interval=self.interval, time=self.time
        )

    @property
    def timetable(self) -> Timetable:
        """The slots of this schedule."""
        return self._timetable

    def describe(self) -> str:
        """``cron '...' (zone)``, ``every N s`` or ``at TIME``, for logs and listings."""
        if self.cron is not None:
            zone = f" ({self.cron_offset})" if self.cron_offset else ""
            return f"cron '{self.cron}'{zone}"
        if self.interval is not None:
            return f"every {self.timetable.interval_s:g}s"
        assert self.timetable.time is not None
        return f"at {self.timetable.time.isoformat()}"


class ScheduleSource(ABC):
    """Where schedules come from (taskiq's interface)."""

    async def startup(self) -> None:  # noqa: B027 (optional hook)
        """Open what the source needs."""

    async def shutdown(self) -> None:  # noqa: B027 (optional hook)
        """Close it."""

    @abstractmethod
    async def get_schedules(self) -> list[ScheduledTask]:
        """Every schedule of this source, as of now."""

    async def add_schedule(self, schedule: ScheduledTask) -> None:
        """Add (or replace) a schedule; sources that cannot change raise."""
        raise NotImplementedError(f"{type(self).__name__} cannot add schedules")

    async def delete_schedule(self, schedule_id: str) -> None:
        """Remove a schedule; sources that cannot change raise."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete schedules")

    def pre_send(self, task: ScheduledTask) -> Any:  # noqa: B027 (optional hook)
        """Before a run is kicked (may be async); raise ``ScheduledTaskCancelledError`` to skip."""

    def post_send(self, task: ScheduledTask) -> Any:  # noqa: B027 (optional hook)
        """After a run was kicked (may be async)."""


class LabelScheduleSource(ScheduleSource):
    """Schedules declared on tasks: ``@broker.task(schedule=[{"cron": "*/5 * * * *"}])``.

    Each entry takes ``cron``/``cron_offset``, ``interval`` or ``time``, and optionally
    ``args``, ``kwargs``, ``labels``, ``schedule_id`` and ``missed``. Without a
    ``schedule_id``, one is derived from the task name and the entry, so every scheduler
    process names it alike (taskiq draws a random one per process).
    """

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    async def get_schedules(self) -> list[ScheduledTask]:
        """The ``schedule`` labels of every task the broker knows."""
        found = []
        for name, task in sorted(self.broker.get_all_tasks().items()):
            entries = task.labels.get("schedule") or []
            for entry in entries:
                if not {"cron", "interval", "time"} & entry.keys():
                    log.warning("schedule %r of task %s has no cron, interval or time", entry, name)
                    continue
                labels = {k: v for k, v in task.labels.items() if k != "schedule"}
                labels.update(entry.get("labels") or {})
                found.append(
                    ScheduledTask(
                        task_name=name,
                        labels=labels,
                        args=list(entry.get("args") or []),
                        kwargs=dict(entry.get("kwargs") or {}),
                        schedule_id=entry.get("schedule_id") or _derived_id(name, entry),
                        cron=entry.get("cron"),
                        cron_offset=entry.get("cron_offset"),
                        time=entry.get("time"),
                        interval=entry.get("interval"),
                        missed=entry.get("missed", "once"),
                    )
                )
        return found


def _derived_id(task_name: str, entry: dict[str, Any]) -> str:
    text = json.dumps([task_name, entry], sort_keys=True, default=str)
    return f"{task_name}:{hashlib.sha1(text.encode()).hexdigest()[:12]}"  # a name, not a secret


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class TaskiqScheduler:
    """The scheduler: a broker to kick through, and the sources of schedules."""

    def __init__(self, broker: AsyncBroker, sources: list[ScheduleSource]) -> None:
        self.broker = broker
        self.sources = sources

    async def startup(self) -> None:
        """Start the broker (as a producer) and the sources."""
        self.broker.is_scheduler_process = True
        await self.broker.startup()
        for source in self.sources:
            await source.startup()

    async def shutdown(self) -> None:
        """Stop the sources, then the broker."""
        for source in self.sources:
            await source.shutdown()
        await self.broker.shutdown()

    async def on_ready(
        self, source: ScheduleSource, task: ScheduledTask, slot: Slot | None = None
    ) -> str | None:
        """Kick one run of ``task`` (for ``slot``); returns its task id, None if cancelled.

        ``pre_send`` may cancel the run with ``ScheduledTaskCancelledError``.
        """
        from zq.kicker import AsyncKicker

        try:
            await _maybe(source.pre_send(task))
        except ScheduledTaskCancelledError:
            log.info("run of schedule %s cancelled by %s", task.schedule_id, type(source).__name__)
            return None
        task_id = run_id(task.schedule_id, slot, task.task_id) if slot else task.task_id
        kicker: AsyncKicker[Any, Any] = AsyncKicker(
            task.task_name, self.broker, {**task.labels, "schedule_id": task.schedule_id}
        )
        await kicker.with_task_id(task_id).kiq(*task.args, **task.kwargs)
        await _maybe(source.post_send(task))
        return task_id


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
