"""``InMemoryBroker``: the same API in one process, for tests. Tasks run on the caller's loop."""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections import Counter, OrderedDict
from typing import Any

from zq.abc.broker import AsyncBroker, ShutdownReport
from zq.abc.result_backend import AsyncResultBackend
from zq.actors.results import ResultStore
from zq.actors.streams import StreamWriter
from zq.core import labels as zq_labels
from zq.core.messages import CancelOutcome, ResultMsg, TaskMsg
from zq.core.progress import TaskProgress
from zq.core.remote_errors import error_result, is_zq_error
from zq.core.worker_policy import jittered
from zq.events import TaskiqEvents
from zq.exceptions import NoResultError, ResultGetError, TaskCancelledError, UnknownTaskError
from zq.receiver import Receiver
from zq.result import TaskiqResult
from zq.result_backends.embedded import EmbeddedResultBackend, store_results

_running_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "zq_inmemory_running", default=None
)


class _LocalPort:
    """A running task's way back: kicks and progress stay in this process; acks are no-ops."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker
        self.streams: dict[str, StreamWriter] = {}  # generator tasks running, by id

    async def submit(self, task: TaskMsg) -> None:
        await self.broker.kick(task)

    async def progress(self, task_id: str, payload: bytes) -> None:
        return None  # the backend keeps it already (same process)

    async def ack(self, task_id: str) -> None:
        return None

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        return await self.broker.cancel_many(task_ids)

    def open_stream(self, task_id: str, window: int) -> StreamWriter:
        """A generator task's items go straight into this process's store."""
        store = self.broker.result_store

        async def send(task_id: str, seq: int, payload: bytes) -> None:
            if store is not None:
                store.put_items([(task_id, seq, payload)])

        stream = StreamWriter(task_id, window, send, lambda s: self.streams.pop(s.task_id, None))
        self.streams[task_id] = stream
        return stream

    def read(self, acks: list[tuple[str, int]]) -> None:
        """The store's readers' positions: room in those streams' windows."""
        for task_id, upto in acks:
            stream = self.streams.get(task_id)
            if stream is not None:
                stream.acked(upto)


class InmemoryResultBackend(AsyncResultBackend[Any]):
    """Results in a dict of this process, the oldest dropped past ``max_stored_results``.

    taskiq's; zq's brokers keep results in their own store and do not need it.
    """

    def __init__(self, max_stored_results: int = 100) -> None:
        self.max_stored_results = max_stored_results
        self.results: OrderedDict[str, TaskiqResult[Any]] = OrderedDict()
        self.progress: OrderedDict[str, TaskProgress[Any]] = OrderedDict()

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Keep it (dropping the oldest past the bound)."""
        _bounded_put(self.results, task_id, result, self.max_stored_results)

    async def is_result_ready(self, task_id: str) -> bool:
        """Whether a result is kept for ``task_id``."""
        return task_id in self.results

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        """The kept result; ``ResultGetError`` if there is none."""
        try:
            return self.results[task_id]
        except KeyError:
            raise ResultGetError(f"no result for task {task_id}") from None

    async def set_progress(self, task_id: str, progress: TaskProgress[Any]) -> None:
        """Keep the task's latest progress."""
        _bounded_put(self.progress, task_id, progress, self.max_stored_results)

    async def get_progress(self, task_id: str) -> TaskProgress[Any] | None:
        """The task's latest progress, or None."""
        return self.progress.get(task_id)


def _bounded_put(table: OrderedDict[str, Any], key: str, value: Any, bound: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while bound >= 0 and len(table) > bound:
        table.popitem(last=False)


class InMemoryBroker(AsyncBroker):
    """Runs each kicked task in this process, through the same execution pipeline as a worker.

    taskiq's constructor arguments. ``await broker.wait_all()`` waits until every kicked task
    has finished; ``await_inplace=True`` runs each task inside ``kiq()``. The ``delay`` label is
    honoured. Start-up and shutdown run both the client and the worker event handlers.
    """

    def __init__(
        self,
        sync_tasks_pool_size: int = 4,
        max_stored_results: int = 100_000,
        cast_types: bool = True,
        max_async_tasks: int = 30,
        max_async_tasks_jitter: int = 0,
        propagate_exceptions: bool = True,
        await_inplace: bool = False,
    ) -> None:
        super().__init__()
        self.sync_tasks_pool_size = sync_tasks_pool_size
        self.max_stored_results = max_stored_results
        self.max_async_tasks = jittered(max_async_tasks, max_async_tasks_jitter, random.random())
        self.validate_params = cast_types
        self.propagate_exceptions = propagate_exceptions
        self.await_inplace = await_inplace
        self._store: ResultStore | None = None
        self._receiver: Receiver | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._port = _LocalPort(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: Counter[str] = Counter()  # runs delayed or running, by task id
        self._by_id: dict[str, asyncio.Task[None]] = {}  # the run of each id, for cancel
        self._cancelling: set[str] = set()

    async def startup(self) -> None:
        """Start the result store and the execution pipeline, then the event handlers."""
        await self._ensure_running()
        await super().startup()

    async def _ensure_running(self) -> None:
        """The store and the pipeline, on the running event loop.

        As taskiq's, the broker works without ``startup()`` (kicking starts what it needs, with
        no event handlers), and in one ``asyncio.run()`` after another: what belonged to a
        loop that has gone is left behind and made anew.
        """
        loop = asyncio.get_running_loop()
        if self._store is not None and self._loop is loop:
            return
        if self._receiver is not None:  # a previous loop's, never shut down
            self._receiver.shutdown()
        self._loop = loop
        self._running = set()
        listener = self._save_elsewhere if self.custom_result_backend else None
        self._store = ResultStore(self.max_stored_results, listener=listener)
        self._store.streams.report = self._port.read
        await self._store.start()
        if not self.custom_result_backend:
            self.result_backend = EmbeddedResultBackend(self._store, self.serializer)
        self._receiver = Receiver(
            self,
            self.sync_tasks_pool_size,
            validate_params=self.validate_params,
            propagate_exceptions=self.propagate_exceptions,
        )
        self._receiver.startup()
        self._slots = asyncio.Semaphore(self.max_async_tasks)

    @property
    def result_store(self) -> ResultStore | None:
        """The result store of this process, while the broker runs."""
        return self._store

    async def shutdown(self) -> ShutdownReport:
        """Wait for running tasks, run the shutdown handlers, then stop."""
        await self.wait_all()
        report = await super().shutdown()
        if self._receiver is not None:
            self._receiver.shutdown()
        if self._store is not None:
            await self._store.stop()
        self._store = self._receiver = None
        self._loop = None
        return report

    def forget_result(self, task_id: str, keep_for: float | None = None) -> None:
        """Drop the stored result of ``task_id`` (a new run of that id follows)."""
        age = self._store.stored_for(task_id) if self._store is not None else None
        if age is not None and (keep_for is None or age >= keep_for):
            assert self._store is not None
            self._store.forget([task_id])

    async def kick(self, message: TaskMsg) -> None:
        """Start running the task in the background (after its ``delay`` label, if any).

        A task with the id of one still delayed or running is that task: dropped, as the
        dispatcher drops it (``unique_key`` kicks share an id), unless that task kicks itself
        again (a retry or a requeue under its own id).
        """
        await self._ensure_running()
        if self.find_task(message.task_name) is None:
            raise UnknownTaskError(task_name=message.task_name)
        if self._held[message.task_id] and _running_id.get() != message.task_id:
            return
        if "unique_for" in message.labels and self._store is not None:  # finished, still kept?
            age = self._store.stored_for(message.task_id)
            keep = zq_labels.unique_for_s(message.labels)
            if age is not None and keep is not None and age < keep:
                return
        self._held[message.task_id] += 1
        if self.await_inplace:
            await self._run(message)
            return
        task = asyncio.get_running_loop().create_task(self._run(message))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        self._by_id[message.task_id] = task

    async def cancel_many(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Cancel tasks started with ``kiq()``: delayed or running, they stop now."""
        outcomes: list[CancelOutcome] = []
        for task_id in task_ids:
            task = self._by_id.get(task_id)
            if task is not None and not task.done():
                self._cancelling.add(task_id)
                task.cancel()
                outcomes.append("cancelling")
            elif self._store is not None and (result := self._store.peek(task_id)) is not None:
                cancelled = is_zq_error(result.error, TaskCancelledError)
                outcomes.append("cancelled" if cancelled else "finished")
            else:
                outcomes.append("unknown")
        return outcomes

    async def _run(self, message: TaskMsg) -> None:
        assert self._receiver is not None and self._slots is not None and self._store is not None
        delay = zq_labels.delay_s(message.labels) if message.labels else None
        if delay:
            await asyncio.sleep(delay)
        running = _running_id.set(message.task_id)
        try:
            async with self._slots:
                result = await self._receiver.run(message, self._port)
        except asyncio.CancelledError:
            if message.task_id not in self._cancelling:
                raise
            self._cancelling.discard(message.task_id)
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            result = error_result(
                message.task_id, message.labels, "TaskCancelledError", "cancelled"
            )
        finally:
            if self._by_id.get(message.task_id) is asyncio.current_task():
                del self._by_id[message.task_id]
            self._held[message.task_id] -= 1
            if not self._held[message.task_id]:
                del self._held[message.task_id]
            _running_id.reset(running)
        if is_zq_error(result.error, NoResultError):
            return  # retried or requeued under the same id, or no result wanted
        self._store.put([result])

    def lifecycle_events(self, starting: bool) -> tuple[TaskiqEvents, ...]:
        """Both sides' events: this process is the client and the worker."""
        if starting:
            return (TaskiqEvents.CLIENT_STARTUP, TaskiqEvents.WORKER_STARTUP)
        return (TaskiqEvents.CLIENT_SHUTDOWN, TaskiqEvents.WORKER_SHUTDOWN)

    def _save_elsewhere(self, results: list[ResultMsg]) -> None:
        saving = store_results(self.result_backend, self.serializer, results)
        task = asyncio.get_running_loop().create_task(saving)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def wait_all(self) -> None:
        """Wait until every task kicked so far has finished."""
        while self._running:
            await asyncio.gather(*list(self._running))
