"""The ledger's waiting room: pending tasks by queue, name, priority and concurrency key.

Pure: no sockets, no asyncio, no clock. The ledger (``zq.core.ledger``) owns the rules of
leases; this module owns which pending task goes next:

- A task waits in a FIFO per key. The key is ``(queue, name)``; a task with a ``priority``
  other than 0 or a ``concurrency_key`` gets ``(queue, name, priority, concurrency key)``, so
  tasks without those labels cost what they cost before the labels existed.
- ``fill`` hands an executor what it serves, within its credit: the highest priority first,
  the credit spread over the names of one priority, each queue in its order.
- A ``concurrency_key`` admits at most ``max_concurrency`` leased tasks at once, across every
  executor: its keys are skipped while it is full, and a slot frees when a lease ends
  (``released``). The limit is the one of the key's first task (a later one may change it).
- Suspect tasks wait apart, in the quarantine, one per executor at a time (the ledger's rule 9).
- Past ``spill_after`` pending tasks, those added at the back of a queue wait encoded in its
  tail (``zq.core.spill``); a queue is its head of entries, then its tail.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from zq.core import labels as zq_labels
from zq.core.entry import Entry
from zq.core.messages import TaskMsg
from zq.core.spill import SPILL_AFTER, Spill

QueueKey = tuple[str, str]  # (queue name, task name)
# (queue, name), or (queue, name, priority, concurrency key or "") when one of those is set
PendingKey = tuple[str, str] | tuple[str, str, int, str]


@dataclass(slots=True)
class ExecutorState:
    """One executor session as the ledger sees it."""

    peer: bytes
    tasks: frozenset[str]
    queues: frozenset[str]  # empty: every queue
    credit: int
    leases: dict[str, Entry] = field(default_factory=dict)
    leaving: bool = False
    suspect: str | None = None  # the one suspect task it holds (rule 9)

    def serves(self, key: QueueKey | PendingKey) -> bool:
        """Whether it runs tasks of this queue and name."""
        return (not self.queues or key[0] in self.queues) and key[1] in self.tasks


def key_of(task: TaskMsg) -> PendingKey:
    """Where a pending task waits (the common case, no labels, without a call)."""
    labels = task.labels
    if not labels or ("priority" not in labels and "concurrency_key" not in labels):
        return (task.queue, task.task_name)
    level = zq_labels.priority(labels)
    group = zq_labels.concurrency_key(labels) or ""
    if not level and not group:
        return (task.queue, task.task_name)
    return (task.queue, task.task_name, level, group)


def _priority(key: PendingKey) -> int:
    return key[2] if len(key) == 4 else 0


def _group(key: PendingKey) -> str:
    return key[3] if len(key) == 4 else ""


class Pending:
    """Pending tasks, ready to be leased in order; the quarantine; concurrency slots."""

    def __init__(
        self, tasks: dict[str, Entry | bytes] | None = None, spill_after: int = SPILL_AFTER
    ) -> None:
        # Each queue's head; a queue with a tail keeps its head here while the head is empty
        self.queues: dict[PendingKey, deque[Entry]] = {}
        self.spill = Spill({} if tasks is None else tasks)  # writes its blobs into ``tasks``
        self._tails = self.spill.tails
        self.spill_after = spill_after  # pending tasks kept as entries before the tails begin
        self.quarantine: deque[Entry] = deque()
        self.count = 0
        self.running: Counter[str] = Counter()  # leases per concurrency key
        self.limits: dict[str, int] = {}  # max_concurrency per concurrency key

    def add(self, entry: Entry, *, front: bool, suspect: bool = False) -> None:
        """Queue ``entry`` at the back (or the front: a lease given back keeps its turn)."""
        self.count += 1
        if suspect:
            entry.quarantined = True
            if front:
                self.quarantine.appendleft(entry)
            else:
                self.quarantine.append(entry)
            return
        task = entry.task  # the common case inline: no labels, so no call
        if task.labels:
            key = key_of(task)
            if len(key) == 4 and key[3] and key[3] not in self.limits:
                self.limits[key[3]] = zq_labels.max_concurrency(task.labels)
        else:
            key = (task.queue, task.task_name)
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
        if front:
            queue.appendleft(entry)
        elif self.count <= self.spill_after and not (self._tails and key in self._tails):
            queue.append(entry)
        else:  # a deep backlog, or behind a tail: the tail keeps the order
            self.spill.add(key, entry)

    def remove(self, entry: Entry) -> None:
        """Take ``entry`` out of its queue (it ended while pending)."""
        self.count -= 1
        if entry.quarantined:
            entry.quarantined = False
            self.quarantine.remove(entry)
            return
        key = key_of(entry.task)
        queue = self.queues[key]
        if entry.spilled:
            self.spill.remove(key, entry.task.task_id)
        else:
            queue.remove(entry)
        self._forget_if_empty(key)

    def ahead(self, entry: Entry) -> int:
        """Pending tasks of ``entry``'s queue that go before it: higher priority, or earlier."""
        key = key_of(entry.task)
        level = _priority(key)
        count = 0
        for other, queue in self.queues.items():
            if other == key and entry.spilled:
                count += len(queue) + self.spill.index(key, entry.task.task_id)
            elif other == key:
                count += queue.index(entry)
            elif other[0] == key[0] and _priority(other) > level:
                count += len(queue) + self.spill.size(other)
        return count

    def group_of(self, entry: Entry) -> tuple[str, int, int] | None:
        """``(concurrency key, leased now, limit)`` if ``entry``'s key is at its limit."""
        group = _group(key_of(entry.task))
        limit = self.limits.get(group, 1)
        if not group or self.running[group] < limit:
            return None
        return group, self.running[group], limit

    def released(self, entry: Entry) -> None:
        """``entry``'s lease ended: its concurrency slot, if it took one, is free again."""
        if entry.slot:
            self.running[entry.slot] -= 1
            if not self.running[entry.slot]:
                del self.running[entry.slot]
            entry.slot = ""

    def take_suspect(self, executor: ExecutorState) -> Entry | None:
        """The first quarantined task ``executor`` serves, if it holds no suspect (rule 9)."""
        if executor.suspect is not None or executor.credit <= 0:
            return None
        for entry in self.quarantine:
            if executor.serves((entry.task.queue, entry.task.task_name)):
                self.quarantine.remove(entry)
                entry.quarantined = False
                self.count -= 1
                self._take_slot(entry)
                return entry
        return None

    def take(self, executor: ExecutorState) -> list[Entry]:
        """What ``executor`` gets now: within its credit, highest priority first."""
        keys = [k for k in self.queues if executor.serves(k)]
        if self._tails:  # each head holds what this executor's credit can take
            for key in keys:
                if key in self._tails:
                    self.spill.refill(key, self.queues[key], executor.credit)
        if len(keys) == 1 and len(keys[0]) == 2:  # one plain queue (the common case), inline
            queue = self.queues[keys[0]]
            count = min(len(queue), executor.credit)
            popleft = queue.popleft
            batch = [popleft() for _ in range(count)]
            executor.credit -= count
            self.count -= count
            if not queue and keys[0] not in self._tails:  # (no other queue is ever empty)
                del self.queues[keys[0]]
            return batch
        if any(len(k) == 4 for k in keys):
            keys = [k for k in keys if self._room(k)]
            taken: list[Entry] = []
            for level in sorted({_priority(k) for k in keys}, reverse=True):
                taken += self._take_from(executor, [k for k in keys if _priority(k) == level])
                if not executor.credit:
                    break
        else:
            taken = self._take_from(executor, keys)
        for key in [k for k, q in self.queues.items() if not q]:
            self._forget_if_empty(key)
        return taken

    def _take_from(self, executor: ExecutorState, keys: list[PendingKey]) -> list[Entry]:
        """Take from ``keys``, the credit spread over them, each queue in its order."""
        taken: list[Entry] = []
        while keys and executor.credit > 0:
            share = max(1, executor.credit // len(keys))  # spread the credit over task names
            for key in keys:
                queue = self.queues[key]
                count = min(share, len(queue), executor.credit, self._room(key))
                group = _group(key)
                if group:  # each lease takes one of the concurrency key's slots
                    for _ in range(count):
                        entry = queue.popleft()
                        entry.slot = group
                        taken.append(entry)
                    self.running[group] += count
                else:
                    popleft = queue.popleft
                    taken += [popleft() for _ in range(count)]
                executor.credit -= count
                self.count -= count
                if not executor.credit:
                    break
            keys = [k for k in keys if self.queues[k] and self._room(k)]
        return taken

    def _room(self, key: PendingKey) -> int:
        """How many more of ``key`` may be leased now (its concurrency key's free slots)."""
        group = _group(key)
        if not group:
            return len(self.queues[key]) + self.spill.size(key)
        return max(0, self.limits.get(group, 1) - self.running[group])

    def _take_slot(self, entry: Entry) -> None:
        group = _group(key_of(entry.task))
        if group:
            entry.slot = group
            self.running[group] += 1

    def census(self) -> dict[str, dict[int, int]]:
        """Pending tasks by queue, then by priority (the quarantine's under their queue)."""
        found: dict[str, dict[int, int]] = {}
        for key, queue in self.queues.items():
            levels, level = found.setdefault(key[0], {}), _priority(key)
            levels[level] = levels.get(level, 0) + len(queue) + self.spill.size(key)
        for entry in self.quarantine:
            levels = found.setdefault(entry.task.queue, {})
            level = zq_labels.priority(entry.task.labels) if entry.task.labels else 0
            levels[level] = levels.get(level, 0) + 1
        return found

    def ids(self) -> set[str]:
        """Ids of every pending task."""
        found = {e.task.task_id for q in self.queues.values() for e in q}
        return found | {e.task.task_id for e in self.quarantine} | self.spill.ids()

    def _forget_if_empty(self, key: PendingKey) -> None:
        if not self.queues[key] and key not in self._tails:
            del self.queues[key]
