"""``TaskiqScheduler``: the object ``zq scheduler`` runs (taskiq's ``taskiq.scheduler.scheduler``).

What zq adds: each run is kicked under a task id derived from the schedule and the slot
(``zq.core.timetable.run_id``), with the label ``schedule_id``; the dispatcher drops a second
kick of the same run, so two schedulers side by side give one execution per slot. ``missed`` on a
schedule says what happens to slots that passed while no scheduler ran ("once", "all",
"skip"). The slot that fired last is persisted (see ``zq.scheduling.sqlite_source``).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from zq.abc.schedule_source import ScheduledTask, ScheduleSource
from zq.core.timetable import Slot, run_id
from zq.exceptions import ScheduledTaskCancelledError
from zq.kicker import AsyncKicker

__all__ = ["TaskiqScheduler"]

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker

log = logging.getLogger("zq.scheduler")


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
