"""The reading side of streams, in the process that reads them (part of the result store).

Items come from the dispatcher (``Routing`` in this process, or a ``Forward``) in order per
task, and wait here for the reader (``zq.core.streams.Inbox``: at most a window of them,
since the writer waits for the reader's position). Whose items are kept:

- a task with a reader (``handle.stream()`` was called);
- a generator task whose handle from ``kiq()`` is still alive (``hold``): it may still be
  read, so its first items wait for that (a handle nobody keeps is a task kicked for its
  effect: a scheduler's kick, a fire-and-forget ``kiq()``);
- anything else is *drained*: acknowledged as it arrives and dropped, so that its task never
  waits for a reader that will not come. ``wait_result()`` without ``stream()`` drains too.

A reader that opens a stream whose items were drained gets ``StreamLostError``, not a stream
with a hole in it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from zq.core.streams import Inbox
from zq.exceptions import StreamLostError

Item = tuple[str, int, bytes]
Report = Callable[[list[tuple[str, int]]], object]
MAX_DRAINED = 10_000  # ids of drained streams remembered (for StreamLostError)


class Streams:
    """Every stream this process receives, by task id."""

    def __init__(self) -> None:
        # Sends the readers' positions to the dispatcher (``Read``); set by the broker.
        self.report: Report | None = None
        self._inboxes: dict[str, Inbox] = {}
        self._readers: set[str] = set()
        self._handles: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._wakers: dict[str, asyncio.Future[None]] = {}
        self._drained: OrderedDict[str, int] = OrderedDict()  # task id -> items dropped
        # Whether any stream is read or may be: the store's hot path looks only at this plain
        # attribute (asking the weak dictionary costs 0.3 µs). Set by hold and open; worked
        # out again by close, so a handle that died leaves it set only until the next close.
        self.active = False

    def buffered(self, task_id: str) -> int:
        """Items of ``task_id`` here, not yet taken by its reader (at most its window)."""
        inbox = self._inboxes.get(task_id)
        return 0 if inbox is None else len(inbox.items)

    def hold(self, task_id: str, handle: Any) -> None:
        """Keep ``task_id``'s items for ``handle`` (``kiq()``'s) while it lives."""
        self._handles[task_id] = handle
        self.active = True

    def put(self, items: list[Item]) -> None:
        """Items arrived: kept for their reader (and it is woken), or drained."""
        acks: dict[str, int] = {}
        for task_id, seq, payload in items:
            inbox = self._inboxes.get(task_id)
            if inbox is None:
                if task_id not in self._readers and task_id not in self._handles:
                    acks[task_id] = max(acks.get(task_id, 0), seq + 1)  # drained
                    self._dropped(task_id, seq + 1)
                    continue
                inbox = self._inboxes[task_id] = Inbox()
            inbox.arrived(seq, payload)
            self.wake(task_id)
        if acks:
            self._report(list(acks.items()))

    def _dropped(self, task_id: str, count: int) -> None:
        drained = self._drained
        drained[task_id] = max(drained.pop(task_id, 0), count)
        if len(drained) > MAX_DRAINED:
            drained.popitem(last=False)

    def open(self, task_id: str) -> None:
        """A reader begins: raises ``StreamLostError`` if items of this stream were dropped."""
        lost = self._drained.get(task_id)
        if lost:
            raise StreamLostError(
                f"{lost} item(s) of task {task_id}'s stream were dropped before stream() was "
                "called: no handle returned by kiq() was kept for them (or wait_result() was "
                "called first)"
            )
        self._readers.add(task_id)
        self.active = True

    def close(self, task_id: str) -> None:
        """The reader is done (or gave up): what is left of the stream is drained."""
        self._readers.discard(task_id)
        self._handles.pop(task_id, None)
        inbox = self._inboxes.pop(task_id, None)
        if inbox is not None and inbox.items:
            self._dropped(task_id, inbox.position)
            self._report([(task_id, inbox.position)])
        self.active = bool(self._inboxes or self._readers or len(self._handles))

    def unread(self, task_id: str) -> None:
        """The task's result is awaited without ``stream()``: its items are not wanted."""
        if task_id not in self._readers:
            self.close(task_id)

    def take(self, task_id: str) -> bytes | None:
        """The reader's next item if one is here, else None (and its position is reported)."""
        inbox = self._inboxes.get(task_id)
        if inbox is None:
            return None
        payload = inbox.take() if inbox.items else None
        due = inbox.ack_due(waiting=payload is None)
        if due is not None:
            self._report([(task_id, due)])
        return payload

    def waiter(self, task_id: str) -> asyncio.Future[None]:
        """A future done when an item or the result arrives for ``task_id``."""
        waker = self._wakers.get(task_id)
        if waker is None or waker.done():
            waker = self._wakers[task_id] = asyncio.get_running_loop().create_future()
        return waker

    def wake(self, task_id: str) -> None:
        """An item or the result of ``task_id`` arrived: its reader looks again."""
        waker = self._wakers.pop(task_id, None)
        if waker is not None and not waker.done():
            waker.set_result(None)

    def _report(self, acks: list[tuple[str, int]]) -> None:
        if self.report is not None:
            self.report(acks)
