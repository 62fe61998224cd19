"""What a dispatcher keeps beside its ledger: the dead letters, scheduled runs seen, the journal.

The dispatcher tells this what happened to tasks (accepted, finished, result stored,
dead-lettered); with a journal, they go to its group commit (``zq.storage.group_commit``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from zq.actors.dispatcher_api import MAX_DEAD_LETTERS, DeadLetterInfo
from zq.core.ledger import Ledger
from zq.core.messages import Handoff, ResultMsg, TaskMsg
from zq.storage.group_commit import GroupCommit
from zq.storage.journal import Journal

log = logging.getLogger("zq.dispatcher")

MAX_RUNS = 100_000  # ids of scheduled runs remembered, to drop a second scheduler's kick


class Records:
    """Dead letters (listed, replayed, purged) and, optionally, the journal's group commit."""

    def __init__(self, journal: Journal | None, result_ttl_s: float) -> None:
        self.journal = journal
        self.result_ttl_s = result_ttl_s
        self.dead_letters: OrderedDict[str, DeadLetterInfo] = OrderedDict()
        self._group = GroupCommit(journal, result_ttl_s) if journal is not None else None
        self._runs: OrderedDict[str, float] = OrderedDict()  # scheduled runs seen, by id

    # --- what happened (journal no-ops without a journal; callers on the hot path check) -

    def accepted(self, task: TaskMsg, origin: bytes | None) -> None:
        if self._group is not None:
            self._group.accepted(task, origin)

    def finished(self, task_id: str) -> None:
        if self._group is not None:
            self._group.finished(task_id)

    def stored(self, result: ResultMsg) -> None:
        if self._group is not None:
            self._group.stored(result)

    def history(self, record: dict[str, Any]) -> None:
        """A finished task's record, for the journal (restored into the history on restart)."""
        if self._group is not None:
            self._group.history(record)

    def dead(
        self, task: TaskMsg, reason: str, origin: bytes | None, *, journaled: bool = False
    ) -> None:
        """Record a dead letter (the oldest go past ``MAX_DEAD_LETTERS``)."""
        if not journaled:  # a new one (not reloaded from the journal): write and say it
            if self._group is not None:
                self._group.dead(task, reason, origin)
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
        if self._group is not None:
            self._group.undead(ids)
        return [letters.pop(task_id) for task_id in ids]

    def replay(
        self,
        task_ids: list[str] | None,
        forget: Callable[[list[str]], None],
        submit: Callable[[TaskMsg, bytes | None], None],
    ) -> list[str]:
        """Dead letters (these, or all) go back to their queues under their own ids.

        With fresh deliveries; the store ``forget``s the error result first, so the replayed
        run's result is the one ``wait_result`` sees. Returns the ids replayed.
        """
        letters = self.take_dead(task_ids)
        if letters:
            forget([d.task_id for d in letters])
        for d in letters:
            submit(_task_of(d), d.origin)
        return [d.task_id for d in letters]

    def recover(
        self,
        submit: Callable[[TaskMsg, bytes | None], None],
        put: Callable[[list[ResultMsg]], None],
        history: Callable[[dict[str, Any]], None],
    ) -> tuple[int, int]:
        """Hand over what the journal held at start-up (nothing without a journal).

        Its unfinished tasks go to ``submit`` again, its results to ``put`` in the store, its
        task history to ``history`` (oldest first), its dead letters stay here.

        Returns (tasks recovered, dead letters reloaded); (0, 0) without a journal.
        """
        found = self._group.load() if self._group is not None else None
        if found is None:
            return 0, 0
        for record in found.history:
            history(record)
        if found.results:  # before the tasks: a task may wait for another's result
            put(found.results)
        for origin, task in found.tasks:
            submit(task, origin)
        for reason, origin, task in found.dead:
            self.dead(task, reason, origin, journaled=True)
        return len(found.tasks), len(found.dead)

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

    def handoff(self) -> Handoff:
        """Dead letters and scheduled runs seen, for the standby (a graceful stop)."""
        dead = [(d.reason, d.origin, _task_of(d)) for d in self.dead_letters.values()]
        return Handoff(dead, list(self._runs))

    def take_handoff(self, handoff: Handoff, now: float) -> int:
        """What a previous dispatcher handed over: its dead letters and runs seen, kept here."""
        for reason, origin, task in handoff.dead:
            if task.task_id not in self.dead_letters:
                if self._group is not None:
                    self._group.dead(task, reason, origin)
                self.dead(task, reason, origin, journaled=True)  # reported by its first holder
        for run in handoff.runs:
            self._runs.setdefault(run, now)
        return len(handoff.dead)

    def guarantee(self) -> str:
        """What the configuration guarantees, in one line (the dispatcher's start-up log)."""
        if self.journal is not None:
            return f"journal {self.journal.path}: unfinished tasks survive a crash or a restart"
        return (
            "no journal: a crash of this process loses the tasks it holds, unless a second "
            "process of the app has joined (it becomes the standby) or journal= is set; a "
            "graceful stop first runs them (shutdown_timeout_s)"
        )

    def report_unfinished(self, held: list[str], standby: bytes | None = None) -> None:
        """Never drop tasks silently: say which ones the dispatcher's stop leaves unfinished.

        ``standby``: the joined process that holds a copy of them (it takes them over).
        """
        if not held:
            return
        shown = ", ".join(held[:10]) + (f" and {len(held) - 10} more" if len(held) > 10 else "")
        if standby is not None and self.journal is None:
            log.warning(
                "stopping with %d task(s) not run; the standby %s holds them and takes over: %s",
                len(held),
                standby.hex()[:12],
                shown,
            )
        elif self.journal is not None:
            log.info(
                "stopping with %d unfinished task(s), kept in journal %s for the next start: %s",
                len(held),
                self.journal.path,
                shown,
            )
        else:
            log.error("stopping with %d task(s) not run, lost (no journal): %s", len(held), shown)

    # --- the journal (zq.storage.group_commit) -------------------------------------------

    def committed(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """Resolved once what was told so far is on disk (``kiq()`` waits for it)."""
        assert self._group is not None, "committed() needs a journal"
        return self._group.committed(loop)

    def flush(self, *, force: bool = False) -> bool:
        """Write what gathered if a kiq() waits (or ``force``); whether all is on disk."""
        return self._group.flush(force=force) if self._group is not None else True

    def tick(self, now: float) -> None:
        """Write what gathered, and expire old results now and then."""
        if self._group is not None:
            self._group.tick(now)

    def close(self, *, crashed: bool) -> None:
        """Write what gathered (unless the dispatcher crashed) and close the journal."""
        if self._group is not None:
            self._group.close(crashed=crashed)


def _task_of(letter: DeadLetterInfo) -> TaskMsg:
    return TaskMsg(letter.task_id, letter.task_name, letter.payload, letter.labels, letter.queue)
