"""Task control in the dispatcher: cancelling tasks, and saying why one has not finished.

Part of the dispatcher (it owns one and is the only caller). The ledger decides what a cancel
does (its rule 11); this performs it: the caller of a task that had not started gets its
``TaskCancelledError`` at once, the executor running one is told to stop it (its result, the
same error, comes back as results do), and the journal records the cancel at once, so a
restart does not run a cancelled task again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zq.actors.dispatcher_api import GetDeadLetters, PurgeDeadLetters, ReplayDeadLetters
from zq.actors.outcomes import Outcomes
from zq.actors.results import ResultStore
from zq.core import labels as zq_labels
from zq.core import workflow
from zq.core.dependencies import HELD
from zq.core.messages import Cancel, Cancelled, CancelOutcome, TaskMsg
from zq.core.remote_errors import error_result, is_zq_error
from zq.core.verdicts import Lost
from zq.exceptions import TaskCancelledError

if TYPE_CHECKING:
    from zq.actors.dispatcher import Dispatcher

NOT_STARTED = "cancelled before it started"
EXECUTOR_LEFT = "cancelled while it ran; its worker left before it confirmed the stop"


@dataclass(slots=True, frozen=True)
class CancelTasks:
    """Ask: cancel these tasks; answers one outcome per id (see ``messages.Cancelled``)."""

    task_ids: list[str]


@dataclass(slots=True, frozen=True)
class Explain:
    """Ask: one line saying where a task is and why it has not finished."""

    task_id: str


QUERIES = frozenset({CancelTasks, Explain, GetDeadLetters, ReplayDeadLetters, PurgeDeadLetters})


class Control:
    """Cancels, explains and handles dead letters, on the dispatcher's ledger and records."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        outcomes: Outcomes,
        store: ResultStore,
        submit: Callable[[TaskMsg, bytes | None], None],
    ) -> None:
        self._ledger = dispatcher._ledger
        self._outcomes = outcomes
        self._records = dispatcher.records
        self._peers = dispatcher.peers
        self._store = store
        self._stored = store.peek
        self._submit = submit
        self._send = dispatcher._send
        self._now = dispatcher._now
        self._committed = dispatcher.committed
        self._workflows = outcomes.workflows

    def answer(self, message: Any) -> Any:
        """The answer to one of the ``QUERIES`` asks."""
        if type(message) is CancelTasks:
            return self._after_commit(self.cancel(message.task_ids))
        if type(message) is Explain:
            return self.explain(message.task_id)
        if type(message) is GetDeadLetters:
            return list(self._records.dead_letters.values())
        if type(message) is ReplayDeadLetters:
            return self._records.replay(message.task_ids, self._store.forget, self._submit)
        assert type(message) is PurgeDeadLetters
        return len(self._records.take_dead(message.task_ids))

    def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Cancel each task; its outcome: cancelled, cancelling, finished or unknown."""
        answers: list[CancelOutcome] = []
        tell: dict[bytes, list[str]] = {}
        for task_id in task_ids:
            if task_id in self._workflows.pending and not self._ledger.holds(task_id):
                answers.append(self._cancel_workflow(task_id))
                continue
            decided = self._ledger.cancel(task_id)
            task = decided.task
            if decided.outcome == "cancelled" and task is not None:
                result = error_result(task_id, task.labels, "TaskCancelledError", NOT_STARTED)
                self._outcomes.cancelled(task, result, decided.origin)
            elif decided.outcome == "cancelling" and decided.holder is not None:
                tell.setdefault(decided.holder, []).append(task_id)
                if self._records.journal is not None and task is not None:
                    # On disk now: a restart before its executor answers must not run it again.
                    self._records.finished(task_id)
                    reason = "cancelled while it ran"
                    self._records.stored(
                        error_result(task_id, task.labels, "TaskCancelledError", reason)
                    )
            elif (stored := self._stored(task_id)) is not None:  # cancelled before: say so
                cancelled = is_zq_error(stored.error, TaskCancelledError)
                answers.append("cancelled" if cancelled else "finished")
                continue
            answers.append(decided.outcome)
        for holder, ids in tell.items():
            self._send(holder, Cancel(ids))
        return answers

    def _cancel_workflow(self, last: str) -> CancelOutcome:
        """Cancel a workflow by its handle: every step and child it has in flight."""
        ledger = self._ledger
        members = [
            task_id
            for task_id in ledger.held_ids()
            if (entry := ledger.entry(task_id)) is not None
            and last in workflow.roots(entry.task.labels)
        ]
        origin = self._workflows.pending.get(last)
        self._workflows.abandon(last)
        outcomes = self.cancel(members)
        result = error_result(last, {}, "TaskCancelledError", "its workflow was cancelled")
        self._outcomes.deliver(result, origin)
        return "cancelling" if "cancelling" in outcomes else "cancelled"

    def _after_commit(self, outcomes: list[CancelOutcome]) -> Any:
        """The outcomes now, or (with a journal) a future of them resolved once on disk."""
        if self._records.journal is None:
            return outcomes
        answer: asyncio.Future[list[CancelOutcome]] = asyncio.get_running_loop().create_future()
        # Asked for during this batch, so this batch's flush writes it (not the next tick's).
        self._committed().add_done_callback(lambda _: answer.set_result(outcomes))
        return answer

    def cancel_for(self, peer: bytes, message: Cancel) -> None:
        """A peer's ``Cancel``: answered with ``Cancelled`` (once on disk, with a journal)."""
        reply = Cancelled(message.ref, self.cancel(message.task_ids))
        if self._records.journal is None:
            self._send(peer, reply)
        else:  # the next flush writes the cancel; the answer goes after it
            self._committed().add_done_callback(lambda _: self._send(peer, reply))

    def kept(self, task: TaskMsg) -> bool:
        """Whether a unique task finished less than its ``unique_for`` ago (not run again)."""
        keep = zq_labels.unique_for_s(task.labels)
        age = self._store.stored_for(task.task_id)
        held = self._ledger.holds(task.task_id)
        return keep is not None and age is not None and age < keep and not held

    def ended(self, lost: Lost) -> None:
        """Cancelled tasks whose executor was lost or handed them back: they end here."""
        for task, origin in lost.cancelled:
            result = error_result(task.task_id, task.labels, "TaskCancelledError", EXECUTOR_LEFT)
            self._outcomes.cancelled(task, result, origin)

    def explain(self, task_id: str) -> str:
        """Where the task is and why it has not finished, in one line."""
        entry = self._ledger.entry(task_id)
        if entry is None:
            letter = self._records.dead_letters.get(task_id)
            if letter is not None:
                return f"dead-lettered: {letter.reason}"
            result = self._stored(task_id)
            if result is not None:
                return "finished with an error" if result.is_err else "finished"
            return "unknown here: never kicked, finished and forgotten, or kicked elsewhere"
        task = entry.task
        if entry.holder is not None:
            info = self._peers.get(entry.holder)
            who = f"pid {info.pid} on {info.hostname}" if info else entry.holder.hex()[:12]
            since = self._clock(entry.leased_at)
            state = "being cancelled on" if entry.cancelled else "running on"
            return (
                f"{state} worker {who} since {since} (delivery {entry.deliveries}; with "
                "prefetch it may still wait there for a free slot)"
            )
        if entry.due == HELD:
            waits = ", ".join(self._outcomes.dependencies.waits_for(task_id))
            return f"waiting for its dependencies to succeed: {waits}"
        if entry.due is not None:
            why = "rate-limited" if "rate_limit" in task.labels else "delayed"
            return f"{why} until {self._clock(entry.due)}"
        queue, runs = self._ledger.serving(task)
        if not queue:
            return f"no connected worker serves queue {task.queue!r}"
        if not runs:
            return f"no connected worker has task {task.task_name!r} registered"
        if entry.quarantined:
            return (
                "quarantined: its workers were lost while it ran; it waits for a worker "
                "that holds no other suspect task"
            )
        group = self._ledger.full_group(entry)
        if group is not None:
            key, running, limit = group
            return f"concurrency key {key!r} at its limit ({running} running, max {limit})"
        ahead = self._ledger.ahead_of(entry)
        return f"queued behind {ahead} task(s) in queue {task.queue!r}"

    def _clock(self, at: float) -> str:
        """A time of the loop's clock as the wall-clock time of day."""
        return time.strftime("%H:%M:%S", time.localtime(time.time() + at - self._now()))
