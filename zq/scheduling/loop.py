"""The scheduler loop: read the sources, fire what ``zq.core.timetable.plan`` says, sleep till next.

It sleeps until the next due time (no polling tick), at most ``update_interval_s`` (sources
are re-read then, and a wall-clock jump is noticed), and wakes early when a source that can
watch itself changes. Sleeping is on the event loop's monotonic clock; the wall clock
(``now``) is injected, and so is ``sleep``, so that tests run it in virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from zq.core.timetable import plan
from zq.scheduler import ScheduledTask, ScheduleSource, TaskiqScheduler
from zq.storage.schedule_state import ScheduleState

log = logging.getLogger("zq.scheduler")

RETRY_AFTER_S = 1.0  # a run whose kick failed is tried again this much later
Sleep = Callable[[float, asyncio.Event], Awaitable[None]]


def wall_now() -> datetime:
    """The wall clock, aware, in UTC."""
    return datetime.now(UTC)


async def sleep_or_wake(seconds: float, woken: asyncio.Event) -> None:
    """Sleep ``seconds`` on the monotonic clock, or less if ``woken`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(woken.wait(), timeout=max(0.0, seconds))


class SchedulerLoop:
    """Runs a ``TaskiqScheduler`` until ``stop()``."""

    def __init__(
        self,
        scheduler: TaskiqScheduler,
        state: ScheduleState,
        *,
        skip_first_run: bool = False,
        update_interval_s: float = 30.0,
        now: Callable[[], datetime] = wall_now,
        sleep: Sleep = sleep_or_wake,
    ) -> None:
        self.scheduler = scheduler
        self.state = state
        self.skip_first_run = skip_first_run
        self.update_interval_s = update_interval_s
        self.now = now
        self.sleep = sleep
        self.fired = 0
        self._schedules: list[tuple[ScheduleSource, ScheduledTask]] = []
        self._retry_at: dict[str, datetime] = {}
        self._woken = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Re-read the sources and look again now (thread-safe through ``call_soon_threadsafe``)."""
        self._woken.set()

    def stop(self) -> None:
        """End ``run`` after the current pass."""
        self._stopping = True
        self._woken.set()

    async def refresh(self) -> None:
        """Read every source; a failing source is logged and keeps its last schedules.

        A source written for taskiq (taskiq-redis) returns taskiq's ``ScheduledTask``: it is read
        into zq's by its fields.
        """
        found: list[tuple[ScheduleSource, ScheduledTask]] = []
        for source in self.scheduler.sources:
            try:
                schedules = await source.get_schedules()
                found += [(source, ScheduledTask.model_validate(t)) for t in schedules]
            except Exception:
                log.exception("cannot read schedules from %s", type(source).__name__)
                found += [(s, t) for s, t in self._schedules if s is source]
        self._schedules = found

    def _state_of(self, source: ScheduleSource) -> ScheduleState:
        state = getattr(source, "state", None)
        return state if isinstance(state, ScheduleState) else self.state

    async def run(self) -> None:
        """Fire schedules until ``stop()``."""
        first = True
        refreshed_at: datetime | None = None
        while not self._stopping:
            now = self.now()
            if (
                self._woken.is_set()
                or refreshed_at is None
                or not (
                    timedelta(0) <= now - refreshed_at < timedelta(seconds=self.update_interval_s)
                )
            ):
                self._woken.clear()
                await self.refresh()
                refreshed_at = now
                if first:
                    log.info("scheduler started with %d schedule(s)", len(self._schedules))
            wake = now + timedelta(seconds=self.update_interval_s)
            for source, task in self._schedules:
                due = await self._pass(source, task, now, first)
                if due is not None:
                    wake = min(wake, due)
            first = False
            if not self._stopping:
                await self.sleep((wake - self.now()).total_seconds(), self._woken)

    async def _pass(
        self, source: ScheduleSource, task: ScheduledTask, now: datetime, first: bool
    ) -> datetime | None:
        """Fire what is due for one schedule; returns when to look at it again."""
        retry = self._retry_at.get(task.schedule_id)
        if retry is not None and retry > now:
            return retry
        state = self._state_of(source)
        decided = plan(
            task.timetable,
            state.get(task.schedule_id),
            now,
            missed=task.missed,
            skip_first_run=first and self.skip_first_run,
        )
        kicked: str | None = None  # the last slot kicked, persisted if a later kick fails
        for slot in decided.fire:
            try:
                task_id = await self.scheduler.on_ready(source, task, slot)
            except Exception:
                log.exception("kicking %s for schedule %s failed", task.task_name, task.schedule_id)
                if kicked is not None:
                    state.put(task.schedule_id, kicked)
                self._retry_at[task.schedule_id] = now + timedelta(seconds=RETRY_AFTER_S)
                return self._retry_at[task.schedule_id]
            self.fired += 1
            kicked = slot.key
            log.info(
                "schedule %s (%s): kicked %s as %s",
                task.schedule_id,
                task.describe(),
                task.task_name,
                task_id,
            )
        self._retry_at.pop(task.schedule_id, None)
        if decided.last is not None:
            state.put(task.schedule_id, decided.last)
        if decided.skipped:
            log.info(
                "schedule %s: %d slot(s) not fired (missed=%s%s)",
                task.schedule_id,
                decided.skipped,
                task.missed,
                ", --skip-first-run" if first else "",
            )
        return decided.wake
