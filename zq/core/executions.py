"""How many times each task really ran: the count behind ``stats().duplicates``. Pure.

Every run of a task on an executor has a ``run`` number, unique to that execution (the
executor draws a random base per process and counts up). A result carries its run, and an
executor keeps the results it sent until the dispatcher acknowledges them; those it cannot
know were received (its connection dropped, the dispatcher restarted) it sends again, marked
*resent*. So the dispatcher sees every execution whose result left its executor, once or more,
and counts distinct runs:

Rules:

1. The first result of a task ends it (the ledger decides); its run is the one the result
   store keeps (``accepted``, a lookup the dispatcher passes in: no second copy here).
2. A later result with another run is a duplicate: an execution beyond the first.
3. A result with a run already seen for that task is the same execution sent again.
4. A resent error of a task still in the ledger is remembered as an early run; if the task
   ends with another run, each early run is a duplicate. (A resent success ends the task,
   unless a retry follows it: ``Outcomes.resent``; a run of it elsewhere is then rule 2.)
5. A result for a task whose result is not kept (never seen, or expired) is *unknown*: stale
   (from before a restart without a journal) or forged, never a duplicate.

Run 0 means "not known" (an older peer): each such result counts as a distinct run.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

Again = Literal["duplicate", "resent", "unknown"]


class Executions:
    """Early runs of live tasks, and the extra runs of finished ones (``memory`` of them).

    ``accepted(task_id)`` is the run of the result kept for a finished task, or None.
    """

    def __init__(self, accepted: Callable[[str], int | None], memory: int = 100_000) -> None:
        if memory < 1:
            raise ValueError("memory must be at least 1")
        self.memory = memory
        self._accepted = accepted
        self._extra: OrderedDict[str, set[int]] = OrderedDict()  # runs beyond the accepted one
        self.early_runs: dict[str, set[int]] = {}  # resent runs of tasks still in the ledger

    def finished(self, task_id: str, run: int) -> int:
        """The task ended with ``run`` (rule 1); returns the duplicates its early runs make."""
        if not self.early_runs:  # the hot path: nothing was resent
            return 0
        early = self.early_runs.pop(task_id, None)
        if not early:
            return 0
        early.discard(run)
        if early:
            self._remember(task_id, early)
        return len(early)

    def again(self, task_id: str, run: int) -> Again:
        """A result for a task that is not in the ledger (rules 2, 3, 5)."""
        accepted = self._accepted(task_id)
        if accepted is None:
            return "unknown"
        if run and run == accepted:
            return "resent"
        extra = self._extra.get(task_id)
        if run and extra is not None and run in extra:
            return "resent"
        if run:
            self._remember(task_id, {run})
        return "duplicate"

    def early(self, task_id: str, run: int) -> None:
        """A resent result of a task still in the ledger (rule 4)."""
        self.early_runs.setdefault(task_id, set()).add(run)

    def dropped(self, task_id: str) -> None:
        """The task left the ledger without a result (dead-lettered): forget its early runs."""
        if self.early_runs:
            self.early_runs.pop(task_id, None)

    def _remember(self, task_id: str, runs: set[int]) -> None:
        extra = self._extra
        if task_id in extra:
            extra[task_id] |= runs
        else:
            extra[task_id] = runs
            if len(extra) > self.memory:
                extra.popitem(last=False)
