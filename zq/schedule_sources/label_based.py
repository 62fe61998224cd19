"""``LabelScheduleSource``: schedules declared on the tasks themselves (taskiq's path)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from zq.abc.schedule_source import ScheduledTask, ScheduleSource

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker

__all__ = ["LabelScheduleSource"]

log = logging.getLogger("zq.scheduler")


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
