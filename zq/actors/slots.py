"""The executor's pool: ``max_async_tasks`` slot coroutines taking tasks from one ready queue.

Part of the executor (it owns one, on its loop). At most that many tasks run at once; the rest
wait here, prefetched. Every run ends in a result handed to ``done``, however the task ended
(a ``BaseException`` it let out included); only the slot's own cancellation (a forced stop)
ends a run without one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import describe

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
            self.running += 1
            if self.running == 1 and self.on_busy is not None:
                self.on_busy(True)
            current[index] = (origin, task)
            try:
                result = await run(task, origin)
            except BaseException as exc:  # every run ends in a result, however it ended
                if being_cancelled(exc):
                    raise
                result = failed(task, exc)
            finally:
                if self.forked:  # a task forked and its copy came back here: it ends now
                    os._exit(0)
                self.running -= 1
                current[index] = None
                if not self.running and self.on_busy is not None:
                    self.on_busy(False)
            done((origin, result))


def failed(task: TaskMsg, exc: BaseException) -> ResultMsg:
    """The error result of a run that raised past the receiver (a hook, a ``BaseException``)."""
    log.error("task %s (%s) ended abnormally: %r", task.task_id, task.task_name, exc)
    return ResultMsg(task.task_id, True, b"", 0.0, task.labels, describe(exc))
