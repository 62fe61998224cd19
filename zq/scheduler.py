"""taskiq's scheduler API: schedules, their sources, and the object ``zq scheduler`` runs.

``ScheduledTask``, ``ScheduleSource``, ``LabelScheduleSource``, ``TaskiqScheduler`` and
``CreatedSchedule`` (what ``task.schedule_by_cron(...)`` returns).

What zq adds: each run is kicked under a task id derived from the schedule and the slot
(``zq.core.timetable.run_id``), with the label ``schedule_id``; the dispatcher drops a second
kick of the same run, so two schedulers side by side give one execution per slot. ``missed`` on a
schedule says what happens to slots that passed while no scheduler ran ("once", "all",
"skip"). The slot that fired last is persisted (see ``zq.scheduling.sqlite_source``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from zq.abc.schedule_source import ScheduledTask, ScheduledTaskCancelledError, ScheduleSource
from zq.core.timetable import Slot, run_id
from zq.kicker import AsyncKicker, CreatedSchedule, create_schedule

__all__ = [
    "CreatedSchedule",
    "LabelScheduleSource",
    "ScheduleSource",
    "ScheduledTask",
    "ScheduledTaskCancelledError",
    "TaskiqScheduler",
    "create_schedule",
]

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker

log = logging.getLogger("zq.scheduler")

_R = TypeVar("_R")


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
