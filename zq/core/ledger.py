"""The dispatcher's bookkeeping: pending tasks, executors' credit, and a lease per task in flight.

Every dispatch decision is made here; the dispatcher actor only performs them. Pure: no sockets,
no asyncio, no clock (nothing here needs the time yet; liveness lives in ``zq.core.liveness``).

Rules:

1. An accepted task is in exactly one place: pending (in a queue) or leased (to one executor).
   It leaves the ledger when its first result arrives or when it is dead-lettered.
2. An executor is sent at most the credit it granted: ``credit`` never goes below zero.
3. A task is only sent to an executor that registered its name and serves its queue; others
   wait, in order, in the dispatcher.
4. When an executor is lost, each of its leases goes back to the front of its queue, or to the
   dead letters once the task has been delivered ``delivery_limit`` times (or as many as its
   ``max_deliveries`` label says).
5. The first result for a task wins, whichever executor sends it; later ones are duplicates.
6. A task resubmitted under its own id by the executor that holds it (a retry, a requeue) is
   its *successor*: when the current run's result arrives, the successor takes the entry's
   place (same origin, deliveries reset) instead of the task ending.
7. A task with a due time waits, delayed, outside the queues until ``release(now)``; the
   caller passes the time, the ledger never reads a clock.
8. A task acknowledged early (``ack``) is never delivered again: if its executor is lost, it
   is dead-lettered with that reason.
9. A task whose executors were lost ``SUSPECT_AFTER`` times while it ran is *suspect* (it may
   be what kills them): it is quarantined, and an executor holds at most one suspect at a
   time. So a poison task reaches its delivery limit alone, and the tasks that died beside it
   go on to complete, instead of sharing its fate batch after batch.
10. Within what an executor serves, pending tasks of a higher ``priority`` label are leased
   before those of a lower one; tasks of one priority and name keep their order; a
   ``concurrency_key`` has at most ``max_concurrency`` tasks leased at once. Which pending task
   goes next is ``zq.core.pending``'s; a lease's end frees its concurrency slot there.
11. A cancelled task that is pending or delayed leaves at once. A leased one is marked: its
   executor is told to stop it and its result ends it as any result does; it never goes back
   to a queue (its executor lost or handing it back ends it) and takes no successor.
12. A task held for its dependencies is delayed until ``HELD`` (never due): only
   ``release_one`` queues it; a cancel removes it as any delayed task.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from zq.core import labels as zq_labels
from zq.core.entry import Entry as _Entry
from zq.core.messages import TaskMsg
from zq.core.pending import ExecutorState as _Executor
from zq.core.pending import Pending
from zq.core.spill import SPILL_AFTER
from zq.core.verdicts import Cancelling, Completion, DeadLetter, Lost
from zq.core.workflow import BUILT_IN
from zq.exceptions import RemoteProtocolError

_CREDIT = operator.attrgetter("credit")
SUSPECT_AFTER = 2  # deliveries lost with their executor before a task is quarantined


class Ledger:
    """Queues, credit and leases for one dispatcher; events in, effects out."""

    def __init__(self, delivery_limit: int = 5, spill_after: int = SPILL_AFTER) -> None:
        if delivery_limit < 1:
            raise ValueError("delivery_limit must be at least 1")
        self.delivery_limit = delivery_limit
        self._tasks: dict[str, _Entry | bytes] = {}  # bytes: waiting encoded (zq.core.spill)
        self._waiting = Pending(self._tasks, spill_after)
        self._executors: dict[bytes, _Executor] = {}
        self._delayed: list[tuple[float, int, _Entry]] = []  # a heap; stale rows are skipped
        self._delayed_count = 0
        self._seq = itertools.count()

    # --- events -------------------------------------------------------------------------

    def submit(
        self, task: TaskMsg, origin: bytes | None = None, due: float | None = None, at: float = 0.0
    ) -> bool:
        """Accept a task at ``at`` (held until ``due`` if given); False if it is not a new task.

        A task with the id of one already here is dropped, unless ``origin`` is the executor
        holding that one: then it becomes its successor (rule 6).
        """
        entry = self._tasks.get(task.task_id)
        if entry is not None:
            if isinstance(entry, bytes):  # waiting encoded: not leased, so never a successor
                return False
            if origin is not None and entry.holder == origin and not entry.cancelled:
                entry.next_run = (task, due)
            return False
        entry = _Entry(task, origin, kicked_at=at)
        self._tasks[task.task_id] = entry
        if due is None:  # (``_place``, inline)
            self._waiting.add(entry, front=False)
        else:
            self._place(entry, due)
        return True

    def release(self, now: float) -> int:
        """Queue the delayed tasks that are due at ``now``; returns how many."""
        delayed = self._delayed
        released = 0
        while delayed and delayed[0][0] <= now:
            due, _, entry = heapq.heappop(delayed)
            if not self._live(due, entry):
                continue  # stale: completed or replaced meanwhile
            entry.due = None
            self._delayed_count -= 1
            self._waiting.add(entry, front=False)
            released += 1
        return released

    def release_one(self, task_id: str) -> bool:
        """Queue a delayed or held task now (its dependencies succeeded); False if it is not."""
        entry = self._get(task_id)
        if entry is None or entry.due is None:
            return False
        entry.due = None  # (its heap item goes stale)
        self._delayed_count -= 1
        self._waiting.add(entry, front=False)
        return True

    def next_due(self) -> float | None:
        """When the earliest delayed task is due, or None (held ones are never due)."""
        delayed = self._delayed
        while delayed:
            due, _, entry = delayed[0]
            if self._live(due, entry):
                return None if due == math.inf else due
            heapq.heappop(delayed)
        return None

    def ack(self, peer: bytes, task_id: str) -> bool:
        """The executor holding ``task_id`` acknowledged it early (rule 8)."""
        entry = self._get(task_id)
        if entry is None or entry.holder != peer or entry.acked:
            return False  # unknown, not this executor's, or acked already
        entry.acked = True
        return True

    def cancel(self, task_id: str) -> Cancelling:
        """Cancel a task (rule 11): a waiting one leaves now, a leased one is marked."""
        entry = self._get(task_id)
        if entry is None:
            return Cancelling("unknown")
        if entry.holder is not None:
            entry.cancelled = True
            entry.next_run = None
            return Cancelling("cancelling", entry.task, entry.origin, entry.holder)
        del self._tasks[task_id]
        if entry.due is not None:
            entry.due = None
            self._delayed_count -= 1
        else:
            self._waiting.remove(entry)
        return Cancelling("cancelled", entry.task, entry.origin)

    def join(self, peer: bytes, tasks: list[str], queues: list[str], credit: int) -> bool:
        """Register an executor session; False if that session is already registered.

        A repeated hello from a registered session (a retry that crossed our welcome) changes
        nothing: taking it as a new session would requeue tasks the executor is running.
        """
        if credit < 0:
            raise RemoteProtocolError(f"negative credit {credit} in hello")
        if peer in self._executors:
            return False
        names = frozenset(tasks) | BUILT_IN  # every executor runs zq's own (workflows)
        self._executors[peer] = _Executor(peer, names, frozenset(queues), credit)
        return True

    def grant(self, peer: bytes, amount: int) -> None:
        """The executor hands back (or grants) ``amount`` more slots."""
        if amount < 0:
            raise RemoteProtocolError(f"negative credit {amount}")
        executor = self._executors.get(peer)
        if executor is not None and not executor.leaving:
            executor.credit += amount

    def complete(self, peer: bytes, task_id: str) -> Completion:
        """A result arrived from ``peer``: the first one for a task ends it."""
        entry = self._tasks.pop(task_id, None)
        if entry is None:
            return Completion("duplicate")
        if isinstance(entry, bytes):  # waiting encoded (a result for it: a peer's mistake)
            entry = self._waiting.spill.thaw(task_id, entry)
        if entry.due is not None:  # delayed (a late result from before a loss)
            entry.due = None
            self._delayed_count -= 1
        elif entry.holder is None:  # requeued after a loss, and the old executor answered first
            self._waiting.remove(entry)
        else:  # (the common case: the calls are made only when there is something to do)
            if entry.slot:
                self._waiting.released(entry)
            holder = self._executors.get(entry.holder)
            if holder is not None:
                holder.leases.pop(task_id, None)
                if holder.suspect == task_id:
                    holder.suspect = None
                if holder.leaving:
                    self._forget_if_done(holder)
        if entry.next_run is not None and entry.holder == peer:
            task, due = entry.next_run  # (one task, one kick: its retries share the kick's time)
            successor = _Entry(task, entry.origin, kicked_at=entry.kicked_at)
            self._tasks[task_id] = successor
            self._place(successor, due)
            return Completion("retried", entry.origin, entry.task, entry)
        return Completion("accepted", entry.origin, entry.task, entry)

    def leave(self, peer: bytes, returned: Sequence[str], cancelled: Sequence[str] = ()) -> Lost:
        """The executor says bye: requeue what it hands back, send it nothing more.

        ``returned`` were never started (the delivery does not count); ``cancelled`` were
        started and cancelled by a forced shutdown (it does, and an early ack no longer holds:
        the executor says the task did not finish). Tasks it is still running stay leased to it
        until their results arrive or it is lost. Returns the ids requeued (and the tasks
        handed back that had been cancelled: they end, rule 11).
        """
        executor = self._executors.get(peer)
        if executor is None:
            return Lost([], [])
        executor.leaving = True
        executor.credit = 0
        requeued: list[str] = []
        ended: list[tuple[TaskMsg, bytes | None]] = []
        for task_ids, started in ((cancelled, True), (returned, False)):
            for task_id in reversed(task_ids):
                entry = executor.leases.pop(task_id, None)
                if entry is not None:
                    if executor.suspect == task_id:
                        executor.suspect = None
                    entry.holder = None
                    entry.acked = False
                    self._waiting.released(entry)
                    if entry.cancelled:
                        del self._tasks[task_id]
                        ended.append((entry.task, entry.origin))
                        continue
                    if entry.next_run is not None:  # it had resubmitted itself: run that
                        entry.task, entry.next_run, entry.deliveries = entry.next_run[0], None, 0
                    elif not started:  # handed back unstarted: not a delivery that failed
                        entry.deliveries -= 1
                    self._waiting.add(entry, front=True)
                    requeued.append(task_id)
        self._forget_if_done(executor)
        requeued.reverse()
        ended.reverse()
        return Lost(requeued, [], ended)

    def lose(self, peer: bytes) -> Lost:
        """The executor is gone (dead, frozen or replaced): its leases go back or die."""
        executor = self._executors.pop(peer, None)
        if executor is None:
            return Lost([], [])
        requeued: list[str] = []
        dead: list[DeadLetter] = []
        ended: list[tuple[TaskMsg, bytes | None]] = []
        for entry in reversed(executor.leases.values()):
            entry.holder = None
            self._waiting.released(entry)
            if entry.cancelled:
                del self._tasks[entry.task.task_id]
                ended.append((entry.task, entry.origin))
                continue
            if entry.next_run is not None:  # the run failed and was resubmitted: run that
                entry.task = entry.next_run[0]
                entry.next_run = None
                entry.deliveries = 0
            if entry.acked:
                del self._tasks[entry.task.task_id]
                reason = "acknowledged before it finished, then its executor was lost"
                dead.append(DeadLetter(entry.task, entry.origin, reason, "TaskLostError"))
            elif entry.deliveries >= (limit := self.limit_of(entry.task)):
                del self._tasks[entry.task.task_id]
                reason = (
                    f"delivered {entry.deliveries} times and its executor was lost each time "
                    f"(delivery limit {limit})"
                )
                dead.append(DeadLetter(entry.task, entry.origin, reason))
            else:
                self._waiting.add(entry, front=True, suspect=entry.deliveries >= SUSPECT_AFTER)
                requeued.append(entry.task.task_id)
        requeued.reverse()
        dead.reverse()
        ended.reverse()
        return Lost(requeued, dead, ended)

    def holds(self, task_id: str) -> bool:
        """Whether the task is here (pending, delayed or leased)."""
        return task_id in self._tasks

    def limit_of(self, task: TaskMsg) -> int:
        """The task's delivery limit: its ``max_deliveries`` label, else the ledger's."""
        labels = task.labels
        if labels and "max_deliveries" in labels:  # a bad one: the default, never a lost task
            return zq_labels.max_deliveries(labels, self.delivery_limit)
        return self.delivery_limit

    # --- the decision ---------------------------------------------------------------------

    def dispatch(self, now: float = 0.0) -> list[tuple[bytes, list[TaskMsg]]]:
        """Lease pending tasks to executors within their credit; one batch per executor.

        ``now`` is kept as each lease's start, for ``explain``.
        """
        waiting = self._waiting
        if not waiting.count:
            return []
        executors = [e for e in self._executors.values() if e.credit > 0]
        if not executors:
            return []
        if len(executors) > 1:
            # The one with the most room first: a trickle of tasks spreads over the idle
            # executors, and a lone task goes to the same idle one each time (the first to
            # join), whose process is warm: rotating made each round trip wake a process that
            # had slept a whole trip (two workers: p50 -8 %, docs/performance.md).
            executors.sort(key=_CREDIT, reverse=True)  # (stable: ties keep join order)
        out: list[tuple[bytes, list[TaskMsg]]] = []
        for executor in executors:
            batch: list[TaskMsg] = []
            if waiting.quarantine and (suspect := waiting.take_suspect(executor)) is not None:
                executor.suspect = suspect.task.task_id  # at most one at a time (rule 9)
                executor.credit -= 1
                self._lease(executor, suspect, now)
                batch.append(suspect.task)
            for entry in waiting.take(executor):
                self._lease(executor, entry, now)
                batch.append(entry.task)
            if batch:
                out.append((executor.peer, batch))
            if not waiting.count:
                break
        return out

    def _lease(self, executor: _Executor, entry: _Entry, now: float) -> None:
        entry.holder = executor.peer
        entry.leased_at = now
        entry.deliveries += 1
        entry.task.attempt = entry.deliveries
        executor.leases[entry.task.task_id] = entry

    # --- helpers --------------------------------------------------------------------------

    def _live(self, due: float, entry: _Entry) -> bool:
        """Whether a delayed heap item is still the task's (not completed, replaced, released)."""
        return entry.due == due and self._tasks.get(entry.task.task_id) is entry

    def _place(self, entry: _Entry, due: float | None) -> None:
        if due is None:
            self._waiting.add(entry, front=False)
        else:
            entry.due = due
            self._delayed_count += 1
            heapq.heappush(self._delayed, (due, next(self._seq), entry))

    def _forget_if_done(self, executor: _Executor) -> None:
        if executor.leaving and not executor.leases:
            self._executors.pop(executor.peer, None)

    # --- queries --------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        """Tasks waiting in the dispatcher."""
        return self._waiting.count

    @property
    def delayed_count(self) -> int:
        """Tasks held until their due time."""
        return self._delayed_count

    @property
    def leased_count(self) -> int:
        """Tasks in flight on executors."""
        return len(self._tasks) - self._waiting.count - self._delayed_count

    def origin_of(self, task_id: str) -> tuple[bool, bytes | None]:
        """``(known, origin)``: whether the task is here, and who submitted it."""
        entry = self._get(task_id)
        return (False, None) if entry is None else (True, entry.origin)

    def route_of(self, task_id: str) -> tuple[bytes | None, bytes | None] | None:
        """``(origin, holder)`` of a task here, or None: where its stream goes, whence."""
        entry = self._get(task_id)
        return None if entry is None else (entry.origin, entry.holder)

    def held_by(self, keep: Callable[[bytes | None], bool]) -> list[TaskMsg]:
        """The tasks held here (pending, delayed or leased) whose origin ``keep`` accepts."""
        thaw = self._waiting.spill.thaw
        found = (thaw(i, e) if isinstance(e, bytes) else e for i, e in self._tasks.items())
        return [e.task for e in found if keep(e.origin)]

    def held_ids(self) -> list[str]:
        """Every task here: pending, delayed or leased (what is at stake when this stops)."""
        return list(self._tasks)

    def pending_ids(self) -> set[str]:
        """Ids of the pending tasks (for tests and introspection)."""
        return self._waiting.ids()

    def leases_of(self, peer: bytes) -> set[str]:
        """Ids of the tasks leased to ``peer``."""
        executor = self._executors.get(peer)
        return set(executor.leases) if executor else set()

    def credit_of(self, peer: bytes) -> int:
        """Credit ``peer`` has left; 0 for an unknown peer."""
        executor = self._executors.get(peer)
        return executor.credit if executor else 0

    def entry(self, task_id: str) -> _Entry | None:
        """The task's entry, if it is here (for ``explain``: read, never change it)."""
        return self._get(task_id)

    def _get(self, task_id: str) -> _Entry | None:
        """The task's entry; one waiting encoded is decoded (flagged ``spilled``), not kept."""
        entry = self._tasks.get(task_id)
        return self._waiting.spill.thaw(task_id, entry) if isinstance(entry, bytes) else entry

    def ahead_of(self, entry: _Entry) -> int:
        """Pending tasks of its queue that go before this pending one."""
        return self._waiting.ahead(entry)

    def full_group(self, entry: _Entry) -> tuple[str, int, int] | None:
        """``(concurrency key, leased, limit)`` when this pending task's key is at its limit."""
        return self._waiting.group_of(entry)

    def serving(self, task: TaskMsg) -> tuple[bool, bool]:
        """Whether some executor serves the task's queue, and whether one also runs its name."""
        key = (task.queue, task.task_name)
        executors = [e for e in self._executors.values() if not e.leaving]
        queue = any(not e.queues or key[0] in e.queues for e in executors)
        return queue, any(e.serves(key) for e in executors)

    def census(self) -> dict[str, dict[str, Any]]:
        """By queue: pending tasks by priority, delayed and running ones (for ``zq status``)."""
        found: dict[str, dict[str, Any]] = {
            queue: {"pending": levels, "delayed": 0, "running": 0}
            for queue, levels in self._waiting.census().items()
        }

        def of(queue: str) -> dict[str, Any]:
            return found.setdefault(queue, {"pending": {}, "delayed": 0, "running": 0})

        for due, _, entry in self._delayed:
            if self._live(due, entry):
                of(entry.task.queue)["delayed"] += 1
        for executor in self._executors.values():
            for entry in executor.leases.values():
                of(entry.task.queue)["running"] += 1
        return found

    def executors(self) -> list[bytes]:
        """Registered executor sessions."""
        return list(self._executors)

    def knows(self, peer: bytes) -> bool:
        """Whether ``peer`` is a registered executor session."""
        return peer in self._executors
