"""``ScheduleSource`` and ``ScheduledTask``: where schedules come from, and one schedule.

taskiq keeps ``ScheduleSource`` at this path; ``zq.scheduler`` re-exports both. They live below
the kicker (which builds a ``ScheduledTask`` in ``schedule_by_cron``) and the scheduler (which
kicks them), so neither imports the other's module in a circle.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NotRequired, Self

import msgspec

from zq.compat import ModelInterface, dataclass_fields
from zq.core.timetable import MISSED_POLICIES, Timetable
from zq.exceptions import ScheduledTaskCancelledError

__all__ = ["CronSpec", "ScheduleSource", "ScheduledTask", "ScheduledTaskCancelledError"]


@dataclass
class CronSpec(ModelInterface):
    """A cron expression by its fields (taskiq's), for ``schedule_by_cron``."""

    minutes: str | int | None = "*"
    hours: str | int | None = "*"
    days: str | int | None = "*"
    months: str | int | None = "*"
    weekdays: str | int | None = "*"
    offset: str | timedelta | None = None

    def to_cron(self) -> str:
        """The five-field cron string."""
        return f"{self.minutes} {self.hours} {self.days} {self.months} {self.weekdays}"

    @classmethod
    def _shape(cls, args: tuple[Any, ...]) -> Any:
        from typing_extensions import TypedDict  # pydantic's own dependency, on 3.11 too

        field = NotRequired[str | int | None]
        return TypedDict(  # type: ignore[operator]
            "CronSpec",
            {
                "minutes": field,
                "hours": field,
                "days": field,
                "months": field,
                "weekdays": field,
                "offset": NotRequired[str | timedelta | None],
            },
        )


@dataclass
class ScheduledTask(ModelInterface):
    """One schedule: what to kick (task, labels, arguments), and when.

    When: exactly one of ``cron`` (with an optional ``cron_offset``), ``interval`` in
    seconds, or ``time``. It has pydantic's model interface (``model_dump``,
    ``model_validate``...) and dumps to what taskiq's ``ScheduledTask`` reads, so taskiq's schedule
    sources (taskiq-redis) store and return zq's schedules; ``model_validate`` also takes
    taskiq's own ``ScheduledTask``.
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

    @classmethod
    def _load(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        if isinstance(data.get("time"), str):
            data["time"] = datetime.fromisoformat(data["time"])
        if isinstance(data.get("interval"), str):  # pydantic's JSON form of a timedelta
            data["interval"] = msgspec.convert(data["interval"], timedelta)
        return cls(**data)

    @classmethod
    def _shape(cls, args: tuple[Any, ...]) -> Any:
        from typing_extensions import TypedDict  # pydantic's own dependency, on 3.11 too

        return TypedDict(  # type: ignore[operator]
            "ScheduledTask",
            {
                "task_name": str,
                "labels": NotRequired[dict[str, Any]],
                "args": NotRequired[list[Any]],
                "kwargs": NotRequired[dict[str, Any]],
                "task_id": NotRequired[str | None],
                "schedule_id": NotRequired[str],
                "cron": NotRequired[str | None],
                "cron_offset": NotRequired[str | timedelta | None],
                "time": NotRequired[datetime | None],
                "interval": NotRequired[int | timedelta | None],
                "missed": NotRequired[str],
            },
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


ScheduledTask._fields = dataclass_fields(ScheduledTask)
CronSpec._fields = dataclass_fields(CronSpec)


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
