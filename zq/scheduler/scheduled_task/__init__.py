"""One schedule and a cron spec (taskiq's ``taskiq.scheduler.scheduled_task``)."""

from zq.abc.schedule_source import CronSpec, ScheduledTask

__all__ = ["CronSpec", "ScheduledTask"]
