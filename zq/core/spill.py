"""The tail of a deep backlog, kept encoded: what a waiting task costs past ``SPILL_AFTER``.

Pure. A pending task is an ``Entry``, its ``TaskMsg``, its id, its arguments and a slot in the
ledger's dict of tasks: about 340 bytes of the process's memory. Past ``SPILL_AFTER`` pending
tasks, a task added at the back of its queue waits encoded instead: its id joins the queue's
*tail* (a deque of ids behind the queue's head of entries), and in the ledger's dict, in place
of its entry, one bytes object holds what neither the id nor the queue's key says (arguments,
labels, attempt, origin, time kicked): about 210 bytes in all (docs/performance.md).

- Order is kept: once a queue has a tail, every task added at its back joins the tail, and the
  head is refilled from the front of the tail (``refill``) before tasks are taken from it.
- A task with state a fresh one does not have (a delivery counted, flags, a lease's time), or
  labels msgpack cannot carry, joins the tail as it is: its id in order, its entry in the dict,
  flagged ``spilled``.
- Asked for by id (``explain``, a cancel, a late result), an encoded task is decoded for the
  moment (``thaw``): the entry it gives is flagged ``spilled``, so that removing it takes its
  id out of the tail.

Below ``SPILL_AFTER`` nothing here runs: a task kicked and taken within a shallow backlog is
never encoded (encoding and decoding one costs about a microsecond).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import msgspec

from zq.core.entry import SPILLED, Entry
from zq.core.messages import TaskMsg

SPILL_AFTER = 50_000  # pending tasks kept as objects; those added at the back past it wait encoded

Key = tuple[Any, ...]  # a queue's key: (queue, task name, ...), ``zq.core.pending.PendingKey``
# (tail index, payload, labels, attempt, origin, kicked_at): what the id and the key do not say
_Blob = tuple[int, bytes, dict[Any, Any], int, bytes | None, float]  # (labels: as they came)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Blob).decode


class _Tail:
    """One queue's encoded tail: its ids in order, and the number its blobs name it by."""

    __slots__ = ("ids", "index")

    def __init__(self, index: int) -> None:
        self.index = index
        self.ids: deque[str] = deque()


class Spill:
    """The encoded tails of the pending queues, writing into the ledger's dict of tasks."""

    def __init__(self, tasks: dict[str, Any]) -> None:
        self._tasks = tasks  # task id -> Entry, or the bytes of one waiting encoded
        self.tails: dict[Key, _Tail] = {}
        self._keys: dict[int, Key] = {}  # a tail's index -> its queue's key (for ``thaw``)
        self._index = itertools.count()

    def add(self, key: Key, entry: Entry) -> None:
        """Put ``entry`` at the back of ``key``'s tail, encoded if it is a fresh task."""
        tail = self.tails.get(key)
        if tail is None:
            tail = self.tails[key] = _Tail(next(self._index))
            self._keys[tail.index] = key
        task = entry.task
        tail.ids.append(task.task_id)
        if _fresh(entry):
            try:
                blob = _encode(
                    (
                        tail.index,
                        task.payload,
                        task.labels,
                        task.attempt,
                        entry.origin,
                        entry.kicked_at,
                    )
                )
                self._tasks[task.task_id] = blob
                return
            except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError):
                pass  # labels msgpack cannot carry (or that contain themselves): it waits as it is
        entry.spilled = True

    def size(self, key: Key) -> int:
        """How many tasks wait in ``key``'s tail."""
        tail = self.tails.get(key)
        return 0 if tail is None else len(tail.ids)

    def refill(self, key: Key, head: deque[Entry], want: int) -> None:
        """Move tasks from the front of ``key``'s tail to the back of ``head``, up to ``want``."""
        tail = self.tails[key]
        ids, tasks = tail.ids, self._tasks
        while len(head) < want and ids:
            task_id = ids.popleft()
            found = tasks[task_id]
            entry = self._entry(task_id, _decode(found), key) if isinstance(found, bytes) else found
            entry.spilled = False
            tasks[task_id] = entry
            head.append(entry)
        if not ids:
            self._drop(key, tail)

    def thaw(self, task_id: str, blob: bytes) -> Entry:
        """The entry ``blob`` stands for, flagged ``spilled`` (the dict keeps the blob)."""
        fields = _decode(blob)  # (once: its first field names the queue)
        return self._entry(task_id, fields, self._keys[fields[0]])

    def remove(self, key: Key, task_id: str) -> None:
        """Take ``task_id`` out of ``key``'s tail (it ended while waiting there)."""
        tail = self.tails[key]
        tail.ids.remove(task_id)
        if not tail.ids:
            self._drop(key, tail)

    def index(self, key: Key, task_id: str) -> int:
        """How many tasks wait before ``task_id`` in ``key``'s tail."""
        return self.tails[key].ids.index(task_id)

    def ids(self) -> set[str]:
        """Ids of every task waiting in a tail."""
        return {task_id for tail in self.tails.values() for task_id in tail.ids}

    def _entry(self, task_id: str, fields: _Blob, key: Key) -> Entry:
        _, payload, labels, attempt, origin, kicked_at = fields
        task = TaskMsg(task_id, key[1], payload, labels, key[0], attempt)
        return Entry(task, origin, kicked_at=kicked_at, flags=SPILLED)

    def _drop(self, key: Key, tail: _Tail) -> None:
        del self.tails[key]
        del self._keys[tail.index]


def _fresh(entry: Entry) -> bool:
    """Whether ``entry`` is all its blob would say: never leased, nothing flagged or held."""
    return (
        not entry.deliveries
        and not entry.flags
        and entry.holder is None
        and entry.due is None
        and entry.next_run is None
        and not entry.slot
        and not entry.leased_at
    )
