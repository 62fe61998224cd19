"""The writer of one stream, in the process running a generator task (``zq.core.streams``).

The receiver puts each item the task yields; ``put`` waits while the window is full, so the
task itself is what slows down when its reader is slow. Whoever opened the writer (an
executor's link, ``InMemoryBroker``) sends the items and hands the reader's position back
through ``acked``. When the generator is exhausted, ``finish`` waits until the reader has
taken every item: only then does the task's result go out, so the result is always the
stream's last word, and items lost with a dropped connection are sent again while the task
still holds its lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from zq.core.streams import RESEND_AFTER_S, Window
from zq.exceptions import ResultTooLargeError

log = logging.getLogger("zq.streams")

Send = Callable[[str, int, bytes], Awaitable[None]]
STALLED_WARN_S = 60.0  # a full window for this long is logged (nobody reads the stream?)
MAX_QUIET_S = 60.0  # the longest wait between two sends of the same unacknowledged items


class StreamClosedError(Exception):
    """The stream's task ended (or was stopped) while its generator still yielded."""


class StreamWriter:
    """Sequence numbers, the window, and the wait for room, for one running task's items."""

    __slots__ = (
        "_loop",
        "_on_close",
        "_room",
        "_send",
        "closed",
        "finishing",
        "last_heard",
        "max_item",
        "quiet_s",
        "stalled_since",
        "task_id",
        "window",
    )

    def __init__(
        self,
        task_id: str,
        size: int,
        send: Send,
        on_close: Callable[[StreamWriter], object] = lambda _w: None,
        max_item: int | None = None,
    ) -> None:
        self.task_id = task_id
        self.max_item = max_item  # bytes: an item over this could not be sent
        self.window = Window(size)
        self._send = send
        self._on_close = on_close
        self._loop = asyncio.get_running_loop()
        self._room = asyncio.Event()
        self._room.set()
        self.closed = False
        self.finishing = False
        self.last_heard = self._loop.time()  # the reader's last word (or the start)
        self.quiet_s = RESEND_AFTER_S  # how long a full window waits before sending again
        self.stalled_since: float | None = None

    async def put(self, payload: bytes) -> None:
        """Send one item, once the window has room; raises ``StreamClosedError`` if closed.

        An item over the message size limit fails the task (``ResultTooLargeError``) here,
        where its generator can be named, not as a dropped connection later.
        """
        if self.max_item is not None and len(payload) > self.max_item:
            raise ResultTooLargeError(
                f"item {self.window.sent} of task {self.task_id}'s stream is {len(payload)} "
                f"bytes, over the {self.max_item}-byte limit (max_msg_size): yield smaller items"
            )
        window = self.window
        while window.full and not self.closed:
            if self.stalled_since is None:
                self.stalled_since = self._loop.time()
            self._room.clear()
            await self._room.wait()
        if self.closed:
            raise StreamClosedError(f"the stream of task {self.task_id} is closed")
        self.stalled_since = None
        await self._send(self.task_id, window.push(payload), payload)

    async def finish(self) -> None:
        """Wait until the reader has taken every item sent (or the stream is closed)."""
        self.finishing = True
        self.stalled_since = self._loop.time()
        window = self.window
        while window.unacked and not self.closed:
            self._room.clear()
            await self._room.wait()

    def put_threadsafe(self, payload: bytes) -> None:
        """``put`` from a sync generator's thread: blocks that thread while the window is full."""
        asyncio.run_coroutine_threadsafe(self.put(payload), self._loop).result()

    def acked(self, upto: int) -> None:
        """The reader has taken ``upto`` items."""
        self.last_heard = self._loop.time()
        if self.window.acked(upto):
            self.quiet_s = RESEND_AFTER_S
            self._room.set()

    def due_again(self, now: float) -> list[tuple[int, bytes]]:
        """The items to send again now, if the writer waits and the reader has been quiet.

        It waits when the window is full or while finishing. Each time nothing came of it,
        the wait doubles (a reader that is only slow costs little). A stall is logged once it
        is long: the task waits for a reader.
        """
        window = self.window
        waits = window.full or (self.finishing and window.unacked)
        if not waits or now - self.last_heard < self.quiet_s:
            return []
        self.last_heard = now
        self.quiet_s = min(2 * self.quiet_s, MAX_QUIET_S)
        since = self.stalled_since
        if since is not None and now - since >= STALLED_WARN_S:
            self.stalled_since = now  # again after as long
            log.warning(
                "task %s has waited %.0fs for its stream's reader (%d items unread): is "
                "anyone reading handle.stream()?",
                self.task_id,
                now - since,
                self.window.size,
            )
        return self.window.resend()

    def close(self) -> None:
        """The task ended: a generator still yielding (a thread) gets ``StreamClosedError``."""
        if not self.closed:
            self.closed = True
            self._room.set()
            self._on_close(self)
