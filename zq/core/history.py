"""Task history: what happened to the tasks a dispatcher finished, kept with a bound.

The dispatcher records each run's end as it happens (cheaply: the objects it has in hand, in a
tuple) and this turns them into plain records only when somebody asks (``zq task show``,
``zq tasks``, the dashboard), or when a journal writes them. A record is a dict of msgpack
values; its schema is documented in ``docs/observing.md`` and is what ``--json`` prints.

Pure: no sockets, no asyncio, no clock (times are given, in the caller's clock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from zq.core.messages import ErrorInfo, ResultMsg, TaskMsg
from zq.core.remote_errors import is_zq_error
from zq.exceptions import NoResultError, TaskCancelledError, TaskRejectedError

# One run's end: (result or None, worker session or None, assigned at, ended at)
Run = tuple[ResultMsg | None, bytes | None, float, float]
# A finished task, raw and flat (one tuple per task: this is on the hot path):
# (task, state, last run's result, its worker, assigned at, ended at, kicked at,
#  why (a dead letter's or a cancel's reason, else ""), earlier runs (retried) or None)
Raw = tuple[
    TaskMsg, str, ResultMsg | None, bytes | None, float, float, float, str, list[Run] | None
]
Record = dict[str, Any]

STATES = ("pending", "delayed", "running", "succeeded", "failed", "cancelled", "dead")
MAX_LOG_LINES = 200  # of one run, in a record (the worker bounds what it sends too)


class History:
    """The last ``limit`` finished tasks (raw or already records), and runs of unfinished ones."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"history limit must not be negative, not {limit}")
        self.limit = limit
        self._done: dict[str, Raw | Record] = {}
        self._order: deque[str] = deque()
        self._runs: dict[str, list[Run]] = {}  # runs that ended in a retry, by task id

    def __len__(self) -> int:
        return len(self._done)

    def retried(self, task_id: str, run: Run) -> None:
        """A run ended and the task's retry took its place."""
        if self.limit:
            self._runs.setdefault(task_id, []).append(run)

    def finished(
        self,
        task: TaskMsg,
        state: str,
        result: ResultMsg | None,
        worker: bytes | None,
        assigned: float,
        ended: float,
        kicked: float,
        why: str = "",
    ) -> Raw:
        """The task ended (``state``: succeeded, failed, cancelled, dead); returns its entry.

        ``result`` and ``worker`` are its last run's (None, None: it ended without one).
        """
        task_id = task.task_id
        earlier = self._runs.pop(task_id, None) if self._runs else None
        raw: Raw = (task, state, result, worker, assigned, ended, kicked, why, earlier)
        limit = self.limit
        if limit:
            done, order = self._done, self._order
            if task_id in done:  # ran again (a replayed dead letter)
                self.keep(task_id, raw)
            else:  # the common case, inline
                if len(done) >= limit:
                    del done[order.popleft()]
                done[task_id] = raw
                order.append(task_id)
        return raw

    def keep(self, task_id: str, entry: Raw | Record) -> None:
        """Keep ``entry`` as the newest, dropping the oldest beyond the bound."""
        if not self.limit:
            return
        done = self._done
        if task_id in done:  # ran again (a replayed dead letter): the newest story wins
            del done[task_id]
            self._order.remove(task_id)
        elif len(done) >= self.limit:
            del done[self._order.popleft()]
        done[task_id] = entry
        self._order.append(task_id)

    def get(self, task_id: str) -> Raw | Record | None:
        """The finished task's entry, if kept."""
        return self._done.get(task_id)

    def runs_of(self, task_id: str) -> list[Run]:
        """Earlier runs of an unfinished task (each ended in a retry)."""
        return list(self._runs.get(task_id, ()))

    def newest(self) -> Iterator[Raw | Record]:
        """Finished tasks, newest first."""
        done = self._done
        return (done[task_id] for task_id in reversed(self._order))


def record(
    raw: Raw,
    wall: Callable[[float], float],
    worker: Callable[[bytes | None], str | None],
    *,
    args: bool = False,
) -> Record:
    """A finished task's record: times on the wall clock (``wall``), workers by name."""
    task, state, last, worker_of_last, assigned, ended, kicked, why, earlier = raw
    runs = list(earlier or ())
    if last is not None or worker_of_last is not None:
        runs.append((last, worker_of_last, assigned, ended))
    if not state:  # ended by its result: which one says how
        state, why = ended_by(last) if last is not None else ("succeeded", why)
    rec = base(task, state, wall(kicked) if kicked else None, args=args)
    rec["finished_at"] = wall(ended)
    rec["attempts"] = [attempt(run, wall, worker) for run in runs]
    rec["reason"] = why
    rec["result"] = last.payload if last is not None and not last.is_err else None
    return rec


def base(task: TaskMsg, state: str, kicked: float | None, *, args: bool) -> Record:
    """What every record holds about a task, finished or not."""
    return {
        "id": task.task_id,
        "name": task.task_name,
        "queue": task.queue,
        "labels": task.labels,
        "state": state,
        "kicked_at": kicked,
        "args": task.payload if args else None,
    }


def attempt(
    run: Run, wall: Callable[[float], float], worker: Callable[[bytes | None], str | None]
) -> Record:
    """One run: where, when, how long, and its error and log lines."""
    result, peer, assigned, ended = run
    error = result.error if result is not None else None
    log = (result.log or "").splitlines()[:MAX_LOG_LINES] if result is not None else []
    return {
        "worker": worker(peer),
        "assigned_at": wall(assigned) if assigned else None,
        "finished_at": wall(ended),
        "run_time": result.execution_time if result is not None else None,
        "error": describe(error) if error is not None else None,
        "log": log,
    }


def describe(error: ErrorInfo) -> Record:
    """An error as a record shows it: its type, message and remote traceback.

    A run a retry middleware replaced by its retry ends with ``NoResultError`` (its caller
    waits for the retry): what failed is in its attributes, and its traceback.
    """
    attrs = error.attrs
    if error.qualname == "NoResultError" and "failed_type" in attrs:
        failed = {"type": str(attrs["failed_type"]), "message": str(attrs["failed_message"])}
        return {**failed, "traceback": error.traceback}
    name = (
        error.qualname if error.module in ("builtins", "") else f"{error.module}.{error.qualname}"
    )
    return {"type": name, "message": error.message, "traceback": error.traceback}


def state_of(entry: Raw | Record) -> str:
    """A kept entry's state."""
    if isinstance(entry, dict):
        return str(entry["state"])
    if entry[1]:
        return entry[1]
    return ended_by(entry[2])[0] if entry[2] is not None else "succeeded"


def ended_by(result: ResultMsg) -> tuple[str, str]:
    """A final result's state and reason: succeeded, failed, cancelled or dead (rejected)."""
    error = result.error
    if not result.is_err or error is None:
        return ("failed" if result.is_err else "succeeded"), ""
    if is_zq_error(error, NoResultError):  # the task chose to have no result
        return "succeeded", ""
    if is_zq_error(error, TaskCancelledError):
        return "cancelled", error.message
    if is_zq_error(error, TaskRejectedError):
        return "dead", f"rejected by the task: {error.message}"
    return "failed", ""
