"""``CronSpec`` at taskiq's path (defined beside ``ScheduledTask``, below the kicker)."""

from zq.abc.schedule_source import CronSpec

__all__ = ["CronSpec"]
