"""How schedules from several reads combine (taskiq's merge functions)."""

from __future__ import annotations

from zq.abc.schedule_source import ScheduledTask

__all__ = ["only_new", "only_unique", "preserve_all"]


def preserve_all(
    old_tasks: list[ScheduledTask], new_tasks: list[ScheduledTask]
) -> list[ScheduledTask]:
    """Both lists, old first."""
    return old_tasks + new_tasks


def only_unique(
    old_tasks: list[ScheduledTask], new_tasks: list[ScheduledTask]
) -> list[ScheduledTask]:
    """The old schedules, then each new one not among them."""
    merged = list(old_tasks)
    merged += [task for task in new_tasks if task not in merged]
    return merged


def only_new(old_tasks: list[ScheduledTask], new_tasks: list[ScheduledTask]) -> list[ScheduledTask]:
    """The new schedules only."""
    return list(new_tasks)
