"""Streams: the items a generator task yields, in order, with a bounded number in flight.

A task that is a generator (async or sync) sends each item it yields as it is produced; the
caller reads them with ``handle.stream()``. Two sides, each a small state machine:

- ``Window``, the writer's (in the worker): each item gets the next sequence number and is
  kept until the reader says it has taken it, and at most ``size`` items are unacknowledged
  at once. A full window makes the task wait (backpressure: a slow reader slows the task,
  never grows anyone's memory). The kept items are what the writer sends again when its
  connection was renewed or the reader has been silent (a lost item or a lost ack).
- ``Inbox``, the reader's (in the caller's process): items are taken in sequence order;
  an item seen before (sent again, or yielded again by a re-run of the task) and an item
  after a gap are dropped, since the writer sends everything after the reader's position
  again. It says when to tell the writer how far the reader has got (``ack_due``).

Pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

from collections import deque

DEFAULT_WINDOW = 256  # items in flight per stream, unless the task's ``stream_window`` label says
ACK_EVERY = 32  # the reader reports its position after this many items (or before it waits)
RESEND_AFTER_S = 2.0  # a full window and no word from the reader this long: send again


class Window:
    """The writer's side of one stream (see the module)."""

    __slots__ = ("read", "sent", "size", "unacked")

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError(f"a stream window holds at least one item, not {size}")
        self.size = size
        self.sent = 0  # items produced so far: the next one's sequence number
        self.read = 0  # items the reader has taken
        self.unacked: deque[bytes] = deque()  # items read..sent-1, to send again if asked

    @property
    def full(self) -> bool:
        """Whether the writer must wait for the reader before sending another item."""
        return self.sent - self.read >= self.size

    def push(self, payload: bytes) -> int:
        """Keep ``payload`` as the next item; its sequence number."""
        seq = self.sent
        self.sent = seq + 1
        self.unacked.append(payload)
        return seq

    def acked(self, upto: int) -> bool:
        """The reader has taken ``upto`` items; whether that frees room in the window.

        Its position only moves forward (a late ack changes nothing), and never past what
        was sent (a confused reader cannot make the writer forget items it has not sent).
        """
        upto = min(upto, self.sent)
        if upto <= self.read:
            return False
        for _ in range(upto - self.read):
            self.unacked.popleft()
        self.read = upto
        return True

    def resend(self) -> list[tuple[int, bytes]]:
        """Every unacknowledged item with its sequence number, to send again."""
        return [(self.read + n, payload) for n, payload in enumerate(self.unacked)]


class Inbox:
    """The reader's side of one stream (see the module)."""

    __slots__ = ("acked", "items", "taken")

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()  # arrived in order, not yet taken by the reader
        self.taken = 0  # items handed to the reader
        self.acked = 0  # the position last reported to the writer

    @property
    def position(self) -> int:
        """The sequence number the next item in order has."""
        return self.taken + len(self.items)

    def arrived(self, seq: int, payload: bytes) -> bool:
        """An item came; whether it is the next in order (kept), else dropped.

        A dropped item that was seen before means the writer is sending again: the reader's
        position must reach it even if it has nothing new to report (``ack_due`` says so).
        """
        if seq != self.position:
            if seq < self.position:
                self.acked = min(self.acked, self.taken - 1)  # report again (see ack_due)
            return False
        self.items.append(payload)
        return True

    def take(self) -> bytes:
        """The next item in order (there must be one)."""
        self.taken += 1
        return self.items.popleft()

    def ack_due(self, waiting: bool) -> int | None:
        """The position to report to the writer now, or None.

        Every ``ACK_EVERY`` items, and before the reader waits for more (so a window smaller
        than ``ACK_EVERY`` never stalls), and again after duplicates arrived (the writer did
        not hear the last report).
        """
        behind = self.taken - self.acked
        if behind >= ACK_EVERY or (waiting and behind > 0):
            self.acked = self.taken
            return self.taken
        return None
