"""Admission: ``kiq()`` waits while the actor it kicks into is at its bound of waiting tasks.

The bound is on tasks accepted and not yet leased (a dispatcher's pending and delayed tasks,
or a joined producer's unfinished ones). It is exact: a ``kiq()`` takes its place here,
synchronously, before it tells the actor (``incoming``), and the actor hands the place over to
its own count when it takes the task (``arrived``). So concurrent ``kiq()`` calls cannot all
pass a check the actor has not caught up with. Callers that find no room queue in order, and
the actor lets them in (``room``) as its count drops.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from zq.core.messages import TaskMsg
from zq.exceptions import QueueFullError


class Admission:
    """Room for ``limit`` waiting tasks: the owner's ``count()`` plus kicks on their way."""

    def __init__(self, limit: int, count: Callable[[], int] = lambda: 0) -> None:
        if limit < 1:
            raise ValueError("max_pending must be at least 1")
        self.limit = limit
        self.incoming = 0  # admitted kicks the owner has not taken yet
        self.waited = 0  # kiq() calls that had to wait (for stats)
        self.closed: BaseException | None = None  # the owner stopped: every entry raises this
        self.timeout_s: float | None = None  # how long ``enter`` waits by default
        self._count = count
        # The owner's count as of the end of its last batch: callers run only between its
        # batches, so this is exact for them, and ``try_enter`` (every kiq()) calls nothing.
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.paused: str | None = None  # why nobody is let in now (``pause``)

    def free(self) -> int:
        """Places left now."""
        return self.limit - self.incoming - self._count()

    def split(
        self, tasks: list[TaskMsg], holds: Callable[[str], bool]
    ) -> tuple[list[TaskMsg], list[TaskMsg]]:
        """Tasks submitted from afar: (those there is room for, those to hand back).

        A task the owner already ``holds`` (a retry's successor, a resubmission) takes no
        room: deferring it would let its predecessor's result end it first.
        """
        room = self.free()
        if room >= len(tasks):
            return tasks, []
        taken: list[TaskMsg] = []
        back: list[TaskMsg] = []
        for task in tasks:
            if room > 0 or holds(task.task_id):
                room -= 1
                taken.append(task)
            else:
                back.append(task)
        return taken, back

    def try_enter(self) -> bool:
        """Take a place if there is one and nobody queues before us (the hot path)."""
        if self.closed is not None:
            raise self.closed
        if not self._waiters and self.incoming + self.held < self.limit and not self.paused:
            self.incoming += 1
            return True
        return False

    async def enter(self) -> None:
        """Wait in line for a place (see ``queue``): ``QueueFullError`` after ``timeout_s``."""
        if self.try_enter():
            return
        place = self.queue()
        try:
            await place
        except BaseException:
            self.gave_up(place)
            raise

    def queue(self) -> asyncio.Future[None]:
        """A place in line, for a caller that found no room (``try_enter`` said False).

        Resolved once the caller has its place; fails with ``QueueFullError`` after
        ``timeout_s``, or with the owner's death. Awaiting this future directly costs a waiting
        caller nothing more than the future: ``kiq()`` does that, and if it is cancelled while
        it waits it calls ``gave_up``.
        """
        if self.closed is not None:
            raise self.closed
        self.waited += 1
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        if self.timeout_s is not None:
            timer = loop.call_later(self.timeout_s, self._too_long, waiter)
            waiter.add_done_callback(lambda _: timer.cancel())
        return waiter

    def gave_up(self, waiter: asyncio.Future[None]) -> None:
        """The caller stopped waiting on ``waiter``: give back the place it may just have got."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self.leave()
        waiter.cancel()

    def _too_long(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done() and self.paused:
            waiter.set_exception(QueueFullError(f"kiq() waited {self.timeout_s:g}s: {self.paused}"))
        if not waiter.done():
            waiter.set_exception(
                QueueFullError(
                    f"the dispatcher's pending queue stayed full ({self.limit} tasks) for "
                    f"{self.timeout_s:g}s: workers are not keeping up (raise max_pending, add "
                    "workers, or give kiq more time with kiq_timeout_s)"
                )
            )

    def leave(self) -> None:
        """An admitted kick was not told to the owner after all (it failed or was cancelled)."""
        self.incoming -= 1
        self.room()

    def arrived(self) -> None:
        """The owner took an admitted kick: it is in ``count()`` now."""
        self.incoming -= 1

    @property
    def queued(self) -> bool:
        """Whether ``kiq()`` calls are waiting for room (the owner then calls ``room``)."""
        return bool(self._waiters)

    def room(self) -> None:
        """The owner's count dropped: let waiting callers in, in order, while there is room."""
        waiters = self._waiters
        while waiters and self.incoming + self._count() < self.limit and not self.paused:
            waiter = waiters.popleft()
            if not waiter.done():
                self.incoming += 1
                waiter.set_result(None)

    def pause(self, why: str) -> None:
        """Let nobody in until the waiting callers move to another owner (``adopt``).

        ``why`` is what a caller that waits past ``timeout_s`` is told.
        """
        self.paused = why

    def adopt(self, other: Admission) -> None:
        """Take over ``other``'s kicks on their way and its waiting callers (a new sink).

        A ``kiq()`` admitted there and not yet handed over is handed to this owner now, and
        callers waiting for room there wait here, in their order, after ours.
        """
        self.incoming += other.incoming
        other.incoming = 0
        self._waiters.extend(other._waiters)
        other._waiters.clear()
        self.room()

    def close(self, error: BaseException) -> None:
        """The owner is gone: every waiting entry, and every later one, raises ``error``."""
        self.closed = error
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
