"""taskiq's scheduler API: schedules, their sources, and the object ``zq scheduler`` runs.

``ScheduledTask`` and ``CronSpec`` (``scheduled_task``), ``ScheduleSource``,
``LabelScheduleSource``, ``TaskiqScheduler`` (``scheduler``) and ``CreatedSchedule``
(``created_schedule``: what ``task.schedule_by_cron(...)`` returns), at taskiq's paths.
"""

from zq.abc.schedule_source import CronSpec, ScheduledTask, ScheduleSource
from zq.exceptions import ScheduledTaskCancelledError
from zq.kicker import CreatedSchedule, create_schedule
from zq.schedule_sources.label_based import LabelScheduleSource
from zq.scheduler.scheduler import TaskiqScheduler

__all__ = [
    "CreatedSchedule",
    "CronSpec",
    "LabelScheduleSource",
    "ScheduleSource",
    "ScheduledTask",
    "ScheduledTaskCancelledError",
    "TaskiqScheduler",
    "create_schedule",
]
