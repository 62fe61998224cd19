"""The journal's group commit: a batch's changes gather here and go to disk together.

The dispatcher says what happened to tasks (accepted, finished, result stored,
dead-lettered, a dead letter replayed or purged); the changes go to disk in one transaction per
batch when a ``kiq()`` waits for them (see ``flush``), on the tick, or when many gathered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from zq.core.messages import ResultMsg, TaskMsg
from zq.exceptions import SendTaskError
from zq.storage.journal import Changes, Journal, Recovered

log = logging.getLogger("zq.dispatcher")

EXPIRE_EVERY_S = 60.0
MAX_UNWRITTEN = 10_000  # changes gathered before they are written without a waiting kiq()


class GroupCommit:
    """One journal and the changes not yet written to it."""

    def __init__(self, journal: Journal, result_ttl_s: float) -> None:
        self.journal = journal
        self.result_ttl_s = result_ttl_s
        self._changes = Changes()
        self._history: list[dict[str, Any]] = []  # finished tasks' records, for the next commit
        self._commit: asyncio.Future[None] | None = None
        self._expired_at = 0.0

    def accepted(self, task: TaskMsg, origin: bytes | None) -> None:
        self._changes.added[task.task_id] = (origin, task)

    def finished(self, task_id: str) -> None:
        # Accepted since the last commit: it is never written at all.
        if self._changes.added.pop(task_id, None) is None:
            self._changes.done.append(task_id)

    def stored(self, result: ResultMsg) -> None:
        self._changes.results.append(result)

    def dead(self, task: TaskMsg, reason: str, origin: bytes | None) -> None:
        self._changes.dead.append((task.task_id, reason, origin, task))
        self.finished(task.task_id)

    def history(self, record: dict[str, Any]) -> None:
        """A finished task's record: written with the next commit (never forces one)."""
        self._history.append(record)

    def undead(self, task_ids: list[str]) -> None:
        """These dead letters were replayed or purged."""
        self._changes.undead.extend(task_ids)

    def load(self) -> Recovered:
        """What the journal held at start-up."""
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
        changes = self._changes
        if self._commit is not None or force or changes.size() >= MAX_UNWRITTEN:
            if changes or self._history:
                changes.history, self._history = self._history, []
                self.journal.commit(changes)
                self._changes = Changes()
            if self._commit is not None:
                self._commit.set_result(None)
                self._commit = None
            return True
        return not changes

    def tick(self, now: float) -> None:
        """Write what gathered, and expire old results now and then."""
        self.flush(force=True)  # the dispatcher's after_batch acknowledges what it wrote
        if now - self._expired_at > EXPIRE_EVERY_S:
            self._expired_at = now
            self.journal.expire(self.result_ttl_s)

    def close(self, *, crashed: bool) -> None:
        """Write what gathered (unless the dispatcher crashed) and close the journal."""
        if not crashed:
            self.flush(force=True)
        if self._commit is not None and not self._commit.done():
            self._commit.set_exception(SendTaskError("the dispatcher stopped before committing"))
        self.journal.close()
