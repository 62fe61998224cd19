"""Task dependencies: a task kicked with ``depends_on`` waits until those tasks succeeded.

Decided here, performed by the dispatcher: when the task arrives, each dependency has
succeeded (fine), failed or been cancelled (the task fails at once with
``DependencyFailedError``, never running), is unknown (the same: never kicked, or finished
longer ago than results are kept), or is still held (the task waits in the ledger, held
until ``HELD``, which no timer reaches). When a dependency's result arrives, what waited on it
is released (all its dependencies succeeded) or fails.

Pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from zq.core.messages import ResultMsg

LABEL = "depends_on"  # a list of task ids
HELD = float("inf")  # the due time of a task waiting for its dependencies: no timer's


@dataclass(slots=True, frozen=True)
class Verdict:
    """What to do with a task: run it, hold it, or fail it (``reason``)."""

    hold: bool = False
    reason: str | None = None


RUN = Verdict()


@dataclass(slots=True, frozen=True)
class Released:
    """What a dependency's result leads to: tasks now free to run, tasks that fail (and why)."""

    run: list[str] = field(default_factory=list)
    fail: list[tuple[str, str]] = field(default_factory=list)


class Dependencies:
    """The tasks waiting for others, and what they wait for."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[str]] = {}  # dependency id -> tasks waiting for it
        self._needs: dict[str, set[str]] = {}  # waiting task id -> dependencies not done yet

    def arrived(
        self,
        task_id: str,
        depends_on: list[str],
        result_of: Callable[[str], ResultMsg | None],
        held: Callable[[str], bool],
    ) -> Verdict:
        """A task with dependencies arrived: run, hold, or fail it."""
        needs: set[str] = set()
        for dependency in depends_on:
            found = result_of(dependency)
            if found is not None:
                if found.is_err:
                    return Verdict(reason=_failed(dependency, found))
            elif held(dependency):
                needs.add(dependency)
            else:
                return Verdict(
                    reason=f"dependency {dependency} is unknown: never kicked, or it finished "
                    "longer ago than results are kept"
                )
        if not needs:
            return RUN
        self._needs[task_id] = needs
        for dependency in needs:
            self.waiters.setdefault(dependency, set()).add(task_id)
        return Verdict(hold=True)

    def finished(self, result: ResultMsg) -> Released:
        """A task's result: the tasks that waited for it run (when it was the last) or fail."""
        waiting = self.waiters.pop(result.task_id, set())
        released = Released()
        for task_id in sorted(waiting):
            needs = self._needs.get(task_id)
            if needs is None:
                continue
            if result.is_err:
                self.forget(task_id)
                released.fail.append((task_id, _failed(result.task_id, result)))
                continue
            needs.discard(result.task_id)
            if not needs:
                del self._needs[task_id]
                released.run.append(task_id)
        return released

    def forget(self, task_id: str) -> None:
        """The waiting task left (it failed, or was cancelled)."""
        for dependency in self._needs.pop(task_id, ()):
            waiting = self.waiters.get(dependency)
            if waiting is not None:
                waiting.discard(task_id)
                if not waiting:
                    del self.waiters[dependency]

    def waits_for(self, task_id: str) -> list[str]:
        """The dependencies a held task still waits for (for ``explain``)."""
        return sorted(self._needs.get(task_id, ()))


def _failed(dependency: str, result: ResultMsg) -> str:
    error = result.error
    what = "failed" if error is None else f"failed ({error.qualname}: {error.message})"
    if error is not None and error.qualname == "TaskCancelledError":
        what = "was cancelled"
    return f"dependency {dependency} {what}: this task did not run"
