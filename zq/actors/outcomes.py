"""How a task's end is recorded: its result delivered, its dead letter, its runs counted.

Part of the dispatcher (it owns one and is the only caller), beside ``Routing`` (who gets a
result) and ``Records`` (dead letters, the journal). The ledger decides whether a result ends
its task; this decides what follows, and keeps ``stats`` true: ``completed``, ``duplicates``
(``zq.core.executions``), ``unknown_results``, ``no_result``, ``dead_lettered``,
``cancelled``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from zq.actors.dispatcher_api import DispatcherStats
from zq.actors.records import Records
from zq.actors.results import ResultStore
from zq.actors.routing import Routing
from zq.actors.standby import Standby
from zq.core import labels as zq_labels
from zq.core import workflow
from zq.core.dependencies import LABEL as DEPENDS
from zq.core.dependencies import Dependencies, Released, Verdict
from zq.core.executions import Executions
from zq.core.history import History, Raw
from zq.core.ledger import Ledger
from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import error_result, is_zq_error
from zq.core.verdicts import DeadLetter
from zq.exceptions import NoResultError, TaskRejectedError

log = logging.getLogger("zq.dispatcher")


class Outcomes:
    """The dispatcher's bookkeeping for results and dead letters."""

    def __init__(
        self,
        ledger: Ledger,
        stats: DispatcherStats,
        records: Records,
        routing: Routing,
        store: ResultStore,
        standby: Standby,
    ) -> None:
        self._ledger = ledger
        self._stats = stats
        self._records = records
        self._journal = records.journal is not None  # checked on the hot path
        self._routing = routing
        self._store = store
        self._standby = standby
        self._executions = Executions(self._accepted_run)
        self.history = History(0)  # the dispatcher gives it its own (``Inspection``)
        self.keep: Callable[[Raw], None] | None = None  # with a journal: writes a history entry
        self.now: Callable[[], float] = lambda: 0.0  # the dispatcher's clock (``Inspection``)
        self.workflows = workflow.Workflows()  # pipelines' groups in progress
        self.dependencies = Dependencies()  # tasks held for others (``depends_on``)
        self.wake: Callable[[], None] = lambda: None  # a held task was released: dispatch
        self.submit: Callable[[TaskMsg, bytes | None], None] = lambda _task, _origin: None

    def complete(self, peer: bytes, result: ResultMsg, now: float) -> bool:
        """A result from ``peer``; True if it ended a run whose successor (a retry) now waits."""
        stats = self._stats
        done = self._ledger.complete(peer, result.task_id)
        if done.outcome == "duplicate":  # not in the ledger: ran again, sent again, or unknown
            self._count_again(result)
            return False
        entry = done.entry
        assert entry is not None
        if done.outcome == "retried":  # its successor runs next; this run's outcome is not final
            stats.retried += 1
            self.history.retried(result.task_id, (result, peer, entry.leased_at, now))
            return True
        raw = self.history.finished(  # for zq task show; one tuple (this is the hot path)
            entry.task, "", result, peer, entry.leased_at, now, entry.kicked_at
        )
        if self.keep is not None:
            self.keep(raw)
        stats.completed += 1
        if self._standby.peer is not None:
            self._standby.finished(result.task_id)
        if self._executions.early_runs:  # only after a session ended: results were resent
            stats.duplicates += self._executions.finished(result.task_id, result.run)
        if self._journal:
            self._records.finished(result.task_id)
        error = result.error
        if error is not None:
            if is_zq_error(error, NoResultError):  # the task chose to have no result
                stats.no_result += 1
                self._routing.unwatch(result.task_id)
                return False
            if is_zq_error(error, TaskRejectedError):
                reason = f"rejected by the task: {error.message}"
                self.dead(entry.task, reason, done.origin, ended=False)
        self.deliver(result, done.origin)
        labels = entry.task.labels
        if labels and not workflow.LABELS.isdisjoint(labels):  # a pipeline's step: what next
            self._next(self.workflows.after(entry.task, result))
        return False

    def restored(self, results: list[ResultMsg]) -> None:
        """Results the journal kept: the workflow groups they belong to are gathered again."""
        for result in results:
            if result.labels and workflow.GROUP in result.labels:
                self._next(self.workflows.restore(result))

    def _next(self, then: workflow.Next) -> None:
        """Submit a pipeline's next tasks, or deliver its error (a step failed)."""
        for task in then.submit:
            self.submit(task, None)
        for result in then.fail:
            self.deliver(result, None)

    def _ended(self, task: TaskMsg, state: str, why: str) -> None:
        """A task that ended without a run of its own (dead-lettered, cancelled): its history."""
        raw = self.history.finished(task, state, None, None, 0.0, self.now(), 0.0, why)
        if self.keep is not None:
            self.keep(raw)

    def resent(self, result: ResultMsg) -> bool:
        """A result sent again after its session ended; True if it ends its task after all.

        A success ends a task the ledger still holds (requeued when its executor went
        silent, perhaps running again elsewhere: that run is then the duplicate), unless a
        retry follows it. An error never does: a retry its run kicked may have been lost
        with the session, and the caller must not get the error the retry was for; its run
        is counted, and the task's own next result ends it.
        """
        task_id = result.task_id
        entry = self._ledger.entry(task_id)
        if entry is None:
            self._count_again(result)
            return False
        if not result.is_err and entry.next_run is None and not entry.cancelled:
            return True
        self._executions.early(task_id, result.run)
        return False

    def dead(self, task: TaskMsg, reason: str, origin: bytes | None, *, ended: bool = True) -> None:
        """Take ``task`` out of circulation (its caller's result comes separately, if any).

        ``ended=False``: its run's result ended it, and is in the history already.
        """
        self._stats.dead_lettered += 1
        if ended:
            self._ended(task, "dead", reason)
        if self._standby.peer is not None:
            self._standby.finished(task.task_id)
        self._executions.dropped(task.task_id)
        self._records.dead(task, reason, origin)

    def cancelled(self, task: TaskMsg, result: ResultMsg, origin: bytes | None) -> None:
        """A task the ledger let go because it was cancelled: its caller gets ``result``."""
        self._stats.cancelled += 1
        if self.dependencies.waiters:  # (it may have waited for others)
            self.dependencies.forget(task.task_id)
        self._ended(task, "cancelled", result.error.message if result.error else "")
        if self._standby.peer is not None:
            self._standby.finished(task.task_id)
        self._executions.dropped(task.task_id)
        if self._journal:
            self._records.finished(task.task_id)
        self.deliver(result, origin)

    def dead_letter(self, letter: DeadLetter) -> None:
        """A task the ledger gave up on: dead-lettered, and its caller gets the error."""
        task = letter.task
        self.dead(task, letter.reason, letter.origin)
        result = error_result(task.task_id, task.labels, letter.error, letter.reason)
        self.deliver(result, letter.origin)

    def _count_again(self, result: ResultMsg) -> None:
        again = self._executions.again(result.task_id, result.run)
        if again == "duplicate":
            self._stats.duplicates += 1
        elif again == "unknown":
            self._stats.unknown_results += 1
            log.debug("a result for task %s, which this dispatcher does not know", result.task_id)

    def _accepted_run(self, task_id: str) -> int | None:
        """The run of the result kept for a finished task (zq.core.executions), or None."""
        result = self._result_of(task_id)
        return None if result is None else result.run

    def deliver(self, result: ResultMsg, origin: bytes | None) -> None:
        """A task's result to whoever waits for it (its submitter, watchers, the journal)."""
        if self._journal:
            self._records.stored(result)
        self._routing.result(result, origin)
        if self.dependencies.waiters and result.task_id in self.dependencies.waiters:
            self._released(self.dependencies.finished(result))

    def depends(self, task: TaskMsg, origin: bytes | None) -> Verdict:
        """A task with ``depends_on`` arrived: it runs, waits, or fails at once.

        Failing, its caller gets ``DependencyFailedError`` (delivered here).
        """
        wanted = task.labels[DEPENDS]
        if (expected := zq_labels.problem(DEPENDS, wanted)) is not None:  # (from a peer)
            verdict = Verdict(reason=f"label 'depends_on' must be {expected}, not {wanted!r}")
        else:
            result_of = self._result_of
            verdict = self.dependencies.arrived(task.task_id, wanted, result_of, self._ledger.holds)
        if verdict.reason is not None:
            why = verdict.reason
            self._ended(task, "failed", why)
            self.deliver(
                error_result(task.task_id, task.labels, "DependencyFailedError", why), origin
            )
        return verdict

    def _released(self, released: Released) -> None:
        """A dependency finished: its waiters run, or end with its failure."""
        for task_id in released.run:
            if self._ledger.release_one(task_id):
                self.wake()
        for task_id, reason in released.fail:
            decided = self._ledger.cancel(task_id)
            if decided.outcome == "cancelled" and decided.task is not None:
                labels = decided.task.labels
                result = error_result(task_id, labels, "DependencyFailedError", reason)
                self.cancelled(decided.task, result, decided.origin)

    def _result_of(self, task_id: str) -> ResultMsg | None:
        """The result of a finished task: routed in this batch, or in the store."""
        return self._routing.routed(task_id) or self._store.peek(task_id)


class ResultAcks:
    """How many results each executor session sent us, and how many we acknowledge.

    Executors keep results until acknowledged and send the rest again when a session ends
    (``zq.core.executions``). Without a journal a result is acknowledged once received; with one,
    once it is on disk (``written``), so a crash never loses a result its executor forgot.
    """

    def __init__(self, durable: bool) -> None:
        self._received: dict[bytes, int] = {}
        self._durable = durable
        self._acked: dict[bytes, int] = {} if durable else self._received

    def received(self, peer: bytes, count: int) -> None:
        """``count`` results arrived from ``peer``'s session."""
        received = self._received
        received[peer] = received.get(peer, 0) + count

    def hello(self, peer: bytes) -> None:
        """A new session: its results are counted from its hello, as the executor does."""
        self._received[peer] = self._acked[peer] = 0

    def gone(self, peer: bytes) -> None:
        """The session ended."""
        self._received.pop(peer, None)
        self._acked.pop(peer, None)

    def written(self) -> None:
        """Everything received so far is on disk (with a journal)."""
        if self._durable:
            self._acked = dict(self._received)

    def acked(self, peer: bytes) -> int:
        """What to tell ``peer`` in the next ``Assign`` or ``Heartbeat``."""
        return self._acked.get(peer, 0)
