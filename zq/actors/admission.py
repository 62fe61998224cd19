"""Admission: ``kiq()`` waits while the actor it kicks into is at its bound of waiting tasks.

The bound is on tasks accepted and not yet leased (a dispatcher's pending and delayed tasks,
or a joined producer's unfinished ones). The owning actor reports its count; callers in the
same event loop read one flag on the hot path and wait only when it is down.
"""

from __future__ import annotations

import asyncio

from zq.exceptions import QueueFullError


class Admission:
    """Open while the owner holds fewer than ``limit`` waiting tasks."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_pending must be at least 1")
        self.limit = limit
        self.open = True
        self.waited = 0  # kiq() calls that had to wait (for stats)
        self._event = asyncio.Event()
        self._event.set()

    def update(self, count: int) -> None:
        """The owner holds ``count`` waiting tasks now."""
        if count >= self.limit:
            if self.open:
                self.open = False
                self._event.clear()
        elif not self.open:
            self.open = True
            self._event.set()

    async def enter(self, timeout_s: float | None) -> None:
        """Wait until there is room; ``QueueFullError`` after ``timeout_s`` (None: no limit)."""
        self.waited += 1
        try:
            await asyncio.wait_for(self._event.wait(), timeout_s)
        except TimeoutError:
            raise QueueFullError(
                f"the dispatcher's pending queue stayed full ({self.limit} tasks) for "
                f"{timeout_s:g}s: workers are not keeping up (raise max_pending, add workers, "
                f"or give kiq more time with kiq_timeout_s)"
            ) from None
