"""``ScheduledTask`` at taskiq's path (defined in ``zq.abc.schedule_source``, below the kicker)."""

from zq.abc.schedule_source import ScheduledTask

__all__ = ["ScheduledTask"]
