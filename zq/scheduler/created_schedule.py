"""``CreatedSchedule``: what ``schedule_by_cron/interval/time`` return (taskiq's path)."""

from zq.kicker import CreatedSchedule

__all__ = ["CreatedSchedule"]
