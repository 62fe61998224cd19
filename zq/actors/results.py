"""ResultStore: keeps the first result per task, and pushes results to whoever waits for them.

Waiting never polls: ``WaitFor`` answers with a Future that the store resolves when the result
arrives, and ``WaitAll`` with one Future for a whole group (what ``gather`` uses, so 10,000
awaited tasks cost one waiter object, not 10,000).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zq.actors.base import Actor
from zq.messages import ResultMsg
from zq.result_table import ResultTable


@dataclass(slots=True, frozen=True)
class Put:
    """Results to store (tell)."""

    results: list[ResultMsg]


@dataclass(slots=True, frozen=True)
class PutProgress:
    """Progress reports to store (tell): ``(task_id, encoded TaskProgress)`` pairs."""

    items: list[tuple[str, bytes]]


@dataclass(slots=True, frozen=True)
class FetchResults:
    """Tell the dispatcher or submitter: send this process the results of these tasks.

    For tasks kicked by another process; they come when they exist.
    """

    task_ids: list[str]


@dataclass(slots=True, frozen=True)
class GetProgress:
    """Ask: the last progress report of a task (encoded), or None."""

    task_id: str


@dataclass(slots=True, frozen=True)
class WaitProgress:
    """Ask: the task's progress (encoded) once it differs from ``seen``."""

    task_id: str
    seen: bytes | None = None


@dataclass(slots=True, frozen=True)
class WaitFor:
    """Ask: the result of one task, now or when it arrives."""

    task_id: str


@dataclass(slots=True, frozen=True)
class WaitAll:
    """Ask: the results of these tasks, in this order, once all have arrived."""

    task_ids: list[str]


@dataclass(slots=True, frozen=True)
class Peek:
    """Ask: the result if it is here, else None."""

    task_id: str


@dataclass(slots=True, frozen=True)
class Unwait:
    """Tell: a waiter for this task gave up; drop cancelled waiters."""

    task_id: str


@dataclass(slots=True, frozen=True)
class Forget:
    """Drop the stored results of these tasks (a dead letter replayed under its own id)."""

    task_ids: list[str]


@dataclass(slots=True, frozen=True)
class FailWaiters:
    """Tell: fail every current waiter with this exception (their tasks can no longer finish)."""

    error: BaseException


class _Group:
    __slots__ = ("found", "future", "ids", "missing")

    def __init__(self, ids: list[str], future: asyncio.Future[list[ResultMsg]]) -> None:
        self.ids = ids
        self.future = future
        self.found: dict[str, ResultMsg] = {}  # held here so the table's bound cannot lose them
        self.missing = 0


class ResultStore(Actor):
    """Results by task id, bounded (``max_results``) and expiring (``ttl_s``)."""

    def __init__(
        self,
        max_results: int = 100_000,
        ttl_s: float = 3600.0,
        clock: Callable[[], float] | None = None,
        listener: Callable[[list[ResultMsg]], None] | None = None,
    ) -> None:
        super().__init__("results")
        self.max_results = max_results
        self.ttl_s = ttl_s
        self._clock = clock
        self._listener = listener  # told of every newly stored batch (a plugged backend)
        self._table: ResultTable[ResultMsg] = ResultTable(max_results, ttl_s)
        self._progress: ResultTable[bytes] = ResultTable(max_results, ttl_s)
        self._waiters: dict[str, list[Any]] = {}
        self._progress_waiters: dict[str, list[asyncio.Future[bytes]]] = {}

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = loop.time

    def receive(self, message: Any) -> None:
        if type(message) is Put:
            self._put(message.results)
        elif type(message) is Unwait:
            waiters = self._waiters.get(message.task_id)
            if waiters is not None:
                waiters[:] = [w for w in waiters if not _cancelled(w)]
                if not waiters:
                    del self._waiters[message.task_id]
        elif type(message) is PutProgress:
            assert self._clock is not None
            now = self._clock()
            self._progress.expire(now)
            for task_id, payload in message.items:
                self._progress.replace(task_id, payload, now)
                for waiter in self._progress_waiters.pop(task_id, ()):
                    if not waiter.done():
                        waiter.set_result(payload)
        elif type(message) is Forget:
            for task_id in message.task_ids:
                self._table.discard(task_id)
        elif type(message) is FailWaiters:
            self._fail_all(message.error)
        else:
            super().receive(message)

    def answer(self, message: Any) -> Any:
        loop = asyncio.get_running_loop()
        table = self._table
        if type(message) is WaitFor:
            found = table.get(message.task_id)
            if found is not None:
                return found
            future: asyncio.Future[ResultMsg] = loop.create_future()
            self._waiters.setdefault(message.task_id, []).append(future)
            return future
        if type(message) is WaitAll:
            group = _Group(message.task_ids, loop.create_future())
            for task_id in message.task_ids:
                found = table.get(task_id)
                if found is not None:
                    group.found[task_id] = found
                elif task_id not in self._waiters or group not in self._waiters[task_id]:
                    group.missing += 1
                    self._waiters.setdefault(task_id, []).append(group)
            if not group.missing:
                return [group.found[i] for i in group.ids]
            return group.future
        if type(message) is Peek:
            return table.get(message.task_id)
        if type(message) is GetProgress:
            return self._progress.get(message.task_id)
        if type(message) is WaitProgress:
            current = self._progress.get(message.task_id)
            if current is not None and current != message.seen:
                return current
            waiter: asyncio.Future[bytes] = loop.create_future()
            self._progress_waiters.setdefault(message.task_id, []).append(waiter)
            return waiter
        return super().answer(message)

    def _put(self, results: list[ResultMsg]) -> None:
        assert self._clock is not None
        now = self._clock()
        table = self._table
        table.expire(now)
        waiters = self._waiters
        stored: list[ResultMsg] | None = [] if self._listener is not None else None
        for result in results:
            if not table.put(result.task_id, result, now):
                continue
            if stored is not None:
                stored.append(result)
            pending = waiters.pop(result.task_id, None)
            if pending is None:
                continue
            for waiter in pending:
                if type(waiter) is _Group:
                    waiter.found[result.task_id] = result
                    waiter.missing -= 1
                    if not waiter.missing and not waiter.future.done():
                        waiter.future.set_result([waiter.found[i] for i in waiter.ids])
                elif not waiter.done():
                    waiter.set_result(result)
        if stored and self._listener is not None:
            self._listener(stored)

    def _fail_all(self, error: BaseException) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                future = waiter.future if type(waiter) is _Group else waiter
                if not future.done():
                    future.set_exception(error)
        self._waiters.clear()

    async def on_stop(self) -> None:
        from zq.exceptions import ActorDeadError

        self._fail_all(ActorDeadError("the result store stopped"))

    @property
    def duplicates(self) -> int:
        """Results dropped because one had already arrived for that task."""
        return self._table.duplicates

    def __len__(self) -> int:
        return len(self._table)


def _cancelled(waiter: Any) -> bool:
    future = waiter.future if type(waiter) is _Group else waiter
    return bool(future.cancelled())
