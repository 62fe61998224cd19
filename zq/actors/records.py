"""What a dispatcher keeps beside its ledger: the dead letters and the journal's group commit.

The dispatcher tells this what happened to tasks (accepted, finished, result stored,
dead-lettered); with a journal, the changes gather here and go to disk in one transaction per
batch when a ``kiq()`` waits for them (see ``flush``), on the tick, or when many gathered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from zq.actors.dispatcher_api import MAX_DEAD_LETTERS, DeadLetterInfo
from zq.core.ledger import Ledger
from zq.core.messages import ResultMsg, TaskMsg
from zq.exceptions import SendTaskError
from zq.storage.journal import Changes, Journal, Recovered

log = logging.getLogger("zq.dispatcher")

EXPIRE_EVERY_S = 60.0
MAX_RUNS = 100_000  # ids of scheduled runs remembered, to drop a second scheduler's kick
MAX_UNWRITTEN = 10_000  # changes gathered before they are written without a waiting kiq()


class Records:
    """Dead letters (listed, replayed, purged) and, optionally, the journal."""

    def __init__(self, journal: Journal | None, result_ttl_s: float) -> None:
        self.journal = journal
        self.result_ttl_s = result_ttl_s
        self.dead_letters: OrderedDict[str, DeadLetterInfo] = OrderedDict()
        self._changes = Changes()
        self._commit: asyncio.Future[None] | None = None
        self._expired_at = 0.0
        self._runs: OrderedDict[str, float] = OrderedDict()  # scheduled runs seen, by id

    # --- what happened (journal no-ops without a journal; callers on the hot path check) -

    def accepted(self, task: TaskMsg, origin: bytes | None) -> None:
        if self.journal is not None:
            self._changes.added[task.task_id] = (origin, task)

    def finished(self, task_id: str) -> None:
        # Accepted since the last commit: it is never written at all.
        if self.journal is not None and self._changes.added.pop(task_id, None) is None:
            self._changes.done.append(task_id)

    def stored(self, result: ResultMsg) -> None:
        if self.journal is not None:
            self._changes.results.append(result)

    def dead(
        self, task: TaskMsg, reason: str, origin: bytes | None, *, journaled: bool = False
    ) -> None:
        """Record a dead letter (the oldest go past ``MAX_DEAD_LETTERS``)."""
        if not journaled:  # a new one (not reloaded from the journal): write and say it
            if self.journal is not None:
                self._changes.dead.append((task.task_id, reason, origin, task))
                self.finished(task.task_id)
            log.error("task %s (%s) dead-lettered: %s", task.task_id, task.task_name, reason)
        letters = self.dead_letters
        letters[task.task_id] = DeadLetterInfo(
            task.task_id, task.task_name, reason, task.labels, task.queue, task.payload, origin
        )
        if len(letters) > MAX_DEAD_LETTERS:
            letters.popitem(last=False)

    def take_dead(self, task_ids: list[str] | None) -> list[DeadLetterInfo]:
        """Remove these dead letters (None: all) and return them."""
        letters = self.dead_letters
        ids = list(letters) if task_ids is None else [t for t in task_ids if t in letters]
        if self.journal is not None:
            self._changes.undead.extend(ids)
        return [letters.pop(task_id) for task_id in ids]

    def replays(self, task_ids: list[str] | None) -> list[tuple[TaskMsg, bytes | None]]:
        """Take these dead letters (None: all) as tasks to submit again, with their origins."""
        return [
            (TaskMsg(d.task_id, d.task_name, d.payload, d.labels, d.queue), d.origin)
            for d in self.take_dead(task_ids)
        ]

    def repeated_run(self, task: TaskMsg, ledger: Ledger, now: float) -> bool:
        """Whether this run of a schedule was kicked before (another scheduler fired its slot).

        Its id is derived from the slot, so a second kick within ``result_ttl_s`` (at most
        ``MAX_RUNS`` remembered) is the same run. One the ledger holds is for it to judge: a
        second kick is dropped there, and a retry kicked by the run itself is its successor.
        """
        runs = self._runs
        if ledger.origin_of(task.task_id)[0]:
            return False
        if task.task_id in runs:
            return True
        runs[task.task_id] = now
        while runs and (
            len(runs) > MAX_RUNS or next(iter(runs.values())) < now - self.result_ttl_s
        ):
            runs.popitem(last=False)
        return False

    # --- the journal ------------------------------------------------------------------------

    def load(self) -> Recovered | None:
        """What the journal held at start-up (None without a journal)."""
        if self.journal is None:
            return None
        found = self.journal.load(self.result_ttl_s)
        if found.tasks or found.dead:
            log.warning(
                "journal %s: %d unfinished task(s) queued again, %d dead letter(s)",
                self.journal.path,
                len(found.tasks),
                len(found.dead),
            )
        return found

    def committed(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """Resolved after the next ``flush`` (``kiq()`` waits for it with a journal)."""
        if self._commit is None:
            self._commit = loop.create_future()
        return self._commit

    def flush(self, *, force: bool = False) -> bool:
        """Group commit: the changes so far in one transaction, then wake the kiq()s.

        Only a waiting ``kiq()`` needs its task on disk at once; finished tasks and results
        are written with the next commit (at the latest on the next tick, or when many have
        gathered). A crash before that runs those tasks again: at-least-once, nothing lost.
        Returns whether everything so far is on disk (so results received so far may be
        acknowledged to their executors).
        """
        journal, changes = self.journal, self._changes
        if journal is None:
            return True
        if self._commit is not None or force or changes.size() >= MAX_UNWRITTEN:
            if changes:
                journal.commit(changes)
                self._changes = Changes()
            if self._commit is not None:
                self._commit.set_result(None)
                self._commit = None
            return True
        return not changes

    def tick(self, now: float) -> None:
        """Write what gathered, and expire old results now and then."""
        if self.journal is None:
            return
        self.flush(force=True)  # the dispatcher's after_batch acknowledges what it wrote
        if now - self._expired_at > EXPIRE_EVERY_S:
            self._expired_at = now
            self.journal.expire(self.result_ttl_s)

    def close(self, *, crashed: bool) -> None:
        """Write what gathered (unless the dispatcher crashed) and close the journal."""
        if self.journal is not None and not crashed:
            self.flush(force=True)
        if self._commit is not None and not self._commit.done():
            self._commit.set_exception(SendTaskError("the dispatcher stopped before committing"))
        if self.journal is not None:
            self.journal.close()
