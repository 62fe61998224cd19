"""``run_scheduler_task``: the scheduler inside your own event loop (taskiq's ``taskiq.api``)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import timedelta

from zq.scheduler import TaskiqScheduler
from zq.scheduling.loop import SchedulerLoop
from zq.storage.schedule_state import ScheduleState

__all__ = ["run_scheduler_task"]


async def run_scheduler_task(
    scheduler: TaskiqScheduler,
    run_startup: bool = False,
    interval: timedelta | None = None,
    loop_interval: timedelta | None = None,
    state_file: str | None = None,
) -> None:
    """Fire ``scheduler``'s schedules in this event loop until cancelled (taskiq's signature).

    ``interval``: how often the sources are read again (default 30 s). ``loop_interval`` is
    accepted for taskiq compatibility: zq sleeps until the next slot instead of ticking.
    ``state_file`` (a zq addition) keeps the last fired slot of each schedule across restarts;
    without it, a temporary file that lives as long as this call.
    """
    if run_startup:
        await scheduler.startup()
    refresh_s = interval.total_seconds() if interval is not None else 30.0
    with tempfile.TemporaryDirectory(prefix="zq-schedule-") as scratch:
        path = state_file or os.path.join(scratch, "schedule-state.db")
        loop = SchedulerLoop(scheduler, ScheduleState(path), update_interval_s=refresh_s)
        runner = asyncio.ensure_future(loop.run())
        try:
            await asyncio.shield(runner)
        except asyncio.CancelledError:
            loop.stop()
            await runner
            raise
        finally:
            if run_startup:
                await scheduler.shutdown()
