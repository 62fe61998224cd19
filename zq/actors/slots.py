"""The executor's pool: ``max_async_tasks`` slot coroutines taking tasks from one ready queue.

Part of the executor (it owns one, on its loop). At most that many tasks run at once; the rest
wait here, prefetched. Every run ends in a result handed to ``done``, however the task ended
(a ``BaseException`` it let out included); only the slot's own cancellation (a forced stop)
ends a run without one. ``stop`` cancels one task (a user's cancel): taken out of the ready
queue, or its run cancelled in its slot, which then goes on with the next task; either way its
result is a ``TaskCancelledError``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from zq.actors.ports import cancel_requested
from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import describe, error_result

log = logging.getLogger("zq.executor")

L = TypeVar("L")  # where a task came from (the executor's link), handed back with its result


def being_cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is this task being cancelled from outside (a shutdown), to re-raise.

    A ``CancelledError`` that a task's own code let out (it awaited a helper that was
    cancelled) is that task's failure, like any other exception: it becomes its result.
    """
    if not isinstance(exc, asyncio.CancelledError):
        return False
    current = asyncio.current_task()
    return current is None or current.cancelling() > 0


MAX_EARLY = 1000  # remembered stops of tasks not found (see ``SlotPool._early``)


class SlotPool(Generic[L]):
    """Runs ``(origin, task)`` pairs with ``run``; ``done((origin, result))`` for each."""

    def __init__(
        self,
        run: Callable[[TaskMsg, L], Awaitable[ResultMsg]],
        done: Callable[[tuple[L, ResultMsg]], None],
    ) -> None:
        self._run = run
        self._done = done
        self.ready: deque[tuple[L, TaskMsg]] = deque()  # received, waiting for a free slot
        self.running = 0
        self.on_busy: Callable[[bool], None] | None = None  # first task started / last ended
        self.forked = False  # set in a copy of the process that a task's os.fork() made
        self._idle: deque[asyncio.Future[tuple[L, TaskMsg]]] = deque()
        self._slots: list[asyncio.Task[None]] = []
        self._current: list[tuple[L, TaskMsg] | None] = []  # per slot: what it runs
        self._stopping: set[int] = set()  # slots whose run ``stop`` cancelled
        # Stopped while handed to an idle slot that has not taken it yet (same wake-up): the
        # slot ends it before it starts. (Also ids that had ended: bounded, see ``_stop``.)
        self._early: set[str] = set()

    def start(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        """Start ``size`` slots."""
        self._current = [None] * size
        self._slots = [loop.create_task(self._slot(i), name=f"zq-slot-{i}") for i in range(size)]

    def offer(self, origin: L, task: TaskMsg) -> None:
        """A task to run: an idle slot takes it at once, or it waits in ``ready``."""
        idle = self._idle
        while idle:
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result((origin, task))
                return
        self.ready.append((origin, task))

    def stop(self, task_ids: list[str]) -> None:
        """Cancel these tasks, waiting or running; one not here has ended (its result is sent)."""
        for task_id in task_ids:
            self._stop(task_id)

    def _stop(self, task_id: str) -> bool:
        for item in self.ready:
            if item[1].task_id == task_id:
                self.ready.remove(item)
                self._done((item[0], cancelled(item[1], "cancelled before it started")))
                return True
        for index, current in enumerate(self._current):
            if current is not None and current[1].task_id == task_id:
                cancel_requested.add(task_id)  # what a sync task in a thread can check
                self._stopping.add(index)
                self._slots[index].cancel()
                return True
        if len(self._early) >= MAX_EARLY:  # ids of tasks that had ended: forget them
            self._early.clear()
        self._early.add(task_id)  # maybe handed to an idle slot in this very wake-up
        return False

    def cancel(self) -> list[tuple[L, TaskMsg]]:
        """Cancel every slot (a forced stop); returns what they were running, unfinished."""
        running = [current for current in self._current if current is not None]
        self._current = [None] * len(self._current)
        for slot in self._slots:
            slot.cancel()
        return running

    async def _slot(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        ready, idle, run, done, current = (
            self.ready,
            self._idle,
            self._run,
            self._done,
            self._current,
        )
        while True:
            if ready:
                origin, task = ready.popleft()
            else:
                waiter: asyncio.Future[tuple[L, TaskMsg]] = loop.create_future()
                idle.append(waiter)
                origin, task = await waiter
                if self._early and task.task_id in self._early:
                    self._early.discard(task.task_id)
                    done((origin, cancelled(task, "cancelled before it started")))
                    continue
            self.running += 1
            if self.running == 1 and self.on_busy is not None:
                self.on_busy(True)
            current[index] = (origin, task)
            try:
                result = await run(task, origin)
            except BaseException as exc:  # every run ends in a result, however it ended
                if not being_cancelled(exc):
                    result = failed(task, exc)
                elif self._stopped(index):  # stop(): this task, not the slot
                    result = cancelled(task, "cancelled while it ran")
                else:
                    raise
            else:
                if self._stopping:  # the task swallowed its cancel: its result stands
                    self._stopped(index)
            finally:
                if self.forked:  # a task forked and its copy came back here: it ends now
                    os._exit(0)
                self.running -= 1
                current[index] = None
                if not self.running and self.on_busy is not None:
                    self.on_busy(False)
            done((origin, result))

    def _stopped(self, index: int) -> bool:
        """Whether ``stop`` cancelled this slot's run; if so the slot takes its next task."""
        if index not in self._stopping:
            return False
        self._stopping.discard(index)
        slot = asyncio.current_task()
        # Cancelled by a forced stop as well (``cancel``): that one wins, the slot ends.
        return slot is None or slot.uncancel() == 0


def cancelled(task: TaskMsg, reason: str) -> ResultMsg:
    """The result of a task that ``stop`` cancelled."""
    log.info("task %s (%s) %s", task.task_id, task.task_name, reason)
    return error_result(task.task_id, task.labels, "TaskCancelledError", reason)


def failed(task: TaskMsg, exc: BaseException) -> ResultMsg:
    """The error result of a run that raised past the receiver (a hook, a ``BaseException``)."""
    log.error("task %s (%s) ended abnormally: %r", task.task_id, task.task_name, exc)
    return ResultMsg(task.task_id, True, b"", 0.0, task.labels, describe(exc))
