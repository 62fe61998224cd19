"""ResultStore: keeps the first result per task, and pushes results to whoever waits for them.

Waiting never polls: ``result()`` waits on a Future that the store resolves when the result
arrives, and ``results()`` on one Future for a whole group (what ``gather`` uses, so 10,000
awaited tasks cost one waiter object, not 10,000).

Everything that talks to the store runs on its event loop (one per process), so the typed
methods (``put``, ``result``...) act at once, without a mailbox hop; the messages (``Put``,
``WaitFor``...) remain its mailbox protocol, for ``tell``/``ask`` and for calls made before
it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zq.actors.base import Actor
from zq.actors.stream_inbox import Item, Streams
from zq.core.messages import Forward, ResultMsg
from zq.core.result_table import ResultTable
from zq.exceptions import ActorDeadError, ResultExpiredError

log = logging.getLogger("zq.results")


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
class Expire:
    """Tell: these tasks are not running and have no result here: fail their waiters.

    Sent by the dispatcher (or a joined producer, from its dispatcher's ``Forward``) after a
    fetch found neither a running task nor a stored result; a result that arrived meanwhile
    wins.
    """

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
        # Asks whoever holds this process's tasks (dispatcher or submitter) which of these
        # ids are not running any more: they are answered with ``Expire``. Set by the broker.
        self.check_live: Callable[[list[str]], None] | None = None
        self._progress: ResultTable[bytes] = ResultTable(max_results, ttl_s)
        self._waiters: dict[str, list[Any]] = {}
        # The mailbox protocol, for tell/ask (and calls made before the store runs): each
        # message is one of the typed calls below.
        self._tells: dict[type, Callable[[Any], None]] = {
            Put: lambda m: self._put(m.results),
            Unwait: lambda m: self._unwait(m.task_id),
            PutProgress: lambda m: self._put_progress(m.items),
            Forget: lambda m: self._forget(m.task_ids),
            Expire: lambda m: self._expire(m.task_ids),
            FailWaiters: lambda m: self._fail_all(m.error),
        }
        self._asks: dict[type, Callable[[Any], Any]] = {
            WaitFor: lambda m: self._wait_for(m.task_id),
            WaitAll: lambda m: self._wait_all(m.task_ids),
            Peek: lambda m: self.peek(m.task_id),
            GetProgress: lambda m: self.progress(m.task_id),
            WaitProgress: lambda m: self._wait_progress(m.task_id, m.seen),
        }
        self._progress_waiters: dict[str, list[asyncio.Future[bytes]]] = {}
        self.streams = Streams()  # generator tasks' items, for their readers

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = loop.time

    def receive(self, message: Any) -> None:
        handler = self._tells.get(type(message))
        if handler is None:
            super().receive(message)
        else:
            handler(message)

    def answer(self, message: Any) -> Any:
        handler = self._asks.get(type(message))
        return super().answer(message) if handler is None else handler(message)

    def __bool__(self) -> bool:
        return True  # an actor, not a collection: ``store or other`` must not see an empty one

    # --- typed calls: for code on this store's loop (every caller: one loop per process) ----
    # A direct call costs no mailbox hop: a result the dispatcher routes here wakes its waiter
    # in the same batch, and a waiter gets one future, not an ask's reply holding another.
    # Before the store runs (or after it died) they go through the mailbox, as a tell would.

    def _ready(self) -> bool:
        return self._clock is not None and self.alive

    def _now_or_queued(self, message: Any) -> None:
        if self._ready():
            self._tells[type(message)](message)
        else:
            self.tell_nowait(message)

    def put(self, results: list[ResultMsg]) -> None:
        """Store ``results`` (the first per task wins) and wake their waiters."""
        if self._ready():  # the hot path: no message built
            self._put(results)
        else:
            self.tell_nowait(Put(results))

    def put_progress(self, items: list[tuple[str, bytes]]) -> None:
        """Keep these progress reports and wake their waiters."""
        self._now_or_queued(PutProgress(items))

    def expire(self, task_ids: list[str]) -> None:
        """These tasks are not running and have no result here: fail their waiters."""
        self._now_or_queued(Expire(task_ids))

    def stored_for(self, task_id: str) -> float | None:
        """Seconds since the result of ``task_id`` was stored here, or None (none is)."""
        at = self._table.stored_at(task_id)
        return None if at is None or self._clock is None else self._clock() - at

    def forget(self, task_ids: list[str]) -> None:
        """Drop the stored results of these tasks (a dead letter replayed under its id)."""
        self._now_or_queued(Forget(task_ids))

    def fail_waiters(self, error: BaseException) -> None:
        """Fail every current waiter with ``error`` (their tasks can no longer finish)."""
        self._now_or_queued(FailWaiters(error))

    def put_items(self, items: list[Item]) -> None:
        """Items streamed by generator tasks: for their readers (``stream_inbox``)."""
        self.streams.put(items)

    async def next_item(self, task_id: str) -> bytes | None:
        """The next item of ``task_id``'s stream, or None once the stream ended (its result).

        The reader must have opened the stream (``streams.open``). The writer sends the
        result only once the reader took every item, so a result here means the end.
        """
        streams = self.streams
        while True:
            payload = streams.take(task_id)
            if payload is not None:
                return payload
            if task_id in self._table:
                return None
            await streams.waiter(task_id)

    def forwarded(self, message: Forward) -> None:
        """What a dispatcher forwarded to this process: results, progress, expired fetches."""
        if message.items:  # before results: a task's last items may share its result's batch
            self.put_items(message.items)
        if message.results:
            self.put(message.results)
        if message.progress:
            self.put_progress(message.progress)
        if message.expired:
            self.expire(message.expired)

    def unwait(self, task_id: str) -> None:
        """A waiter for ``task_id`` gave up: drop cancelled waiters (nothing if it died)."""
        if self.alive:
            self._now_or_queued(Unwait(task_id))

    def peek(self, task_id: str) -> ResultMsg | None:
        """The stored result of ``task_id``, or None."""
        return self._table.get(task_id)

    def progress(self, task_id: str) -> bytes | None:
        """The last progress report of ``task_id`` (encoded), or None."""
        return self._progress.get(task_id)

    async def result(self, task_id: str, timeout: float | None = None) -> ResultMsg:
        """The result of ``task_id``, now or once it arrives; ``TimeoutError`` after ``timeout``.

        The time limit is a timer on the waiter's future, not an ``asyncio.timeout`` scope:
        that scope costs a round trip about 10,000 instructions (docs/performance.md).
        """
        if self.streams.active:  # awaited without stream(): its items are not wanted
            self.streams.unread(task_id)
        if not self._ready():
            async with asyncio.timeout(timeout):
                answer: ResultMsg = await self.ask(WaitFor(task_id))
            return answer
        found = self._wait_for(task_id)
        if isinstance(found, ResultMsg):
            return found
        if timeout is None:
            return await found
        timer = found.get_loop().call_later(timeout, _time_up, found)
        try:
            return await found
        finally:
            timer.cancel()

    async def results(self, task_ids: list[str]) -> list[ResultMsg]:
        """The results of ``task_ids`` in order, once all have arrived (one waiter in all)."""
        if self.streams.active:
            for task_id in task_ids:
                self.streams.unread(task_id)
        if not self._ready():
            answers: list[ResultMsg] = await self.ask(WaitAll(task_ids))
            return answers
        found = self._wait_all(task_ids)
        return found if isinstance(found, list) else await found

    async def next_progress(self, task_id: str, seen: bytes | None = None) -> bytes:
        """The progress of ``task_id`` (encoded) once it differs from ``seen``."""
        if not self._ready():
            answer: bytes = await self.ask(WaitProgress(task_id, seen))
            return answer
        found = self._wait_progress(task_id, seen)
        return found if isinstance(found, bytes) else await found

    def _unwait(self, task_id: str) -> None:
        waiters = self._waiters.get(task_id)
        if waiters is not None:
            waiters[:] = [w for w in waiters if not _cancelled(w)]
            if not waiters:
                del self._waiters[task_id]

    def _put_progress(self, items: list[tuple[str, bytes]]) -> None:
        assert self._clock is not None
        now = self._clock()
        self._progress.expire(now)
        for task_id, payload in items:
            self._progress.replace(task_id, payload, now)
            for waiter in self._progress_waiters.pop(task_id, ()):
                if not waiter.done():
                    waiter.set_result(payload)

    def _forget(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self._table.discard(task_id)

    def _expire(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            if task_id not in self._table:
                self._fail(task_id, ResultExpiredError(_expired(task_id, self)))

    def _wait_for(self, task_id: str) -> ResultMsg | asyncio.Future[ResultMsg]:
        found = self._table.get(task_id)
        if found is not None:
            return found
        future: asyncio.Future[ResultMsg] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(task_id, []).append(future)
        if self._table.evicted:
            self._check([task_id])
        return future

    def _wait_all(self, task_ids: list[str]) -> list[ResultMsg] | asyncio.Future[list[ResultMsg]]:
        table = self._table
        stored = table.get_all(task_ids)
        if None not in stored:  # all here already (a gather after the fact): no group at all
            return stored  # type: ignore[return-value]  # (None is not in it)
        group = _Group(task_ids, asyncio.get_running_loop().create_future())
        for task_id, found in zip(task_ids, stored, strict=True):
            if found is not None:
                group.found[task_id] = found
            elif task_id not in self._waiters or group not in self._waiters[task_id]:
                group.missing += 1
                self._waiters.setdefault(task_id, []).append(group)
        if not group.missing:  # (an id given twice: its one waiter is the group's)
            return [group.found[i] for i in group.ids]
        if table.evicted:
            self._check([i for i in group.ids if i not in group.found])
        return group.future

    def _wait_progress(self, task_id: str, seen: bytes | None) -> bytes | asyncio.Future[bytes]:
        current = self._progress.get(task_id)
        if current is not None and current != seen:
            return current
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._progress_waiters.setdefault(task_id, []).append(waiter)
        return waiter

    def _put(self, results: list[ResultMsg]) -> None:
        assert self._clock is not None
        now = self._clock()
        table = self._table
        table.expire(now)
        waiters = self._waiters
        stored: list[ResultMsg] | None = [] if self._listener is not None else None
        streams = self.streams if self.streams.active else None  # readers wait for the end
        for result in results:
            if not table.put(result.task_id, result, now):
                continue
            if stored is not None:
                stored.append(result)
            if streams is not None:
                streams.wake(result.task_id)  # its reader has had every item
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
            try:  # called by whoever put the results (the dispatcher): never raise into it
                self._listener(stored)
            except Exception:
                log.exception("the result listener failed on %d result(s)", len(stored))

    def _check(self, task_ids: list[str]) -> None:
        """Results were dropped here (age or bound): a missing one may be gone for good.

        Whoever holds this process's tasks answers with ``Expire`` for those not running,
        and their waiters fail instead of hanging. Until anything was dropped, a missing
        result is one still to come, and nobody is asked.
        """
        if self.check_live is not None:
            self.check_live(task_ids)

    def _fail(self, task_id: str, error: BaseException) -> None:
        for waiter in self._waiters.pop(task_id, ()):
            future = waiter.future if type(waiter) is _Group else waiter
            if not future.done():
                future.set_exception(error)

    def _fail_all(self, error: BaseException) -> None:
        for waiters in self._waiters.values():
            for waiter in waiters:
                future = waiter.future if type(waiter) is _Group else waiter
                if not future.done():
                    future.set_exception(error)
        self._waiters.clear()
        for progress in self._progress_waiters.values():  # their tasks cannot report either
            for pending in progress:
                if not pending.done():
                    pending.set_exception(error)
        self._progress_waiters.clear()

    async def on_stop(self) -> None:
        self._fail_all(ActorDeadError("the result store stopped"))

    @property
    def duplicates(self) -> int:
        """Results dropped because one had already arrived for that task."""
        return self._table.duplicates

    def __len__(self) -> int:
        return len(self._table)


def _expired(task_id: str, store: ResultStore) -> str:
    return (
        f"no result is kept for task {task_id} and it is not running: it finished over "
        f"{store.ttl_s:g}s ago, or over {store.max_results} results arrived after it (or no "
        "task with this id was kicked); read results sooner, or raise result_ttl_s / "
        "max_results"
    )


def _cancelled(waiter: Any) -> bool:
    """Whether a waiter gave up: cancelled, or timed out (a waiter with its result is gone)."""
    future = waiter.future if type(waiter) is _Group else waiter
    return bool(future.done())


def _time_up(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
