"""zq's embedded result backend: results kept in the producer's own process.

zq's default backend is the ResultStore actor inside the producer process: results are pushed
to it by the dispatcher, and ``wait_result`` is woken by it, never polling.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from zq.abc.result_backend import AsyncResultBackend
from zq.actors.results import (
    ResultStore,
)
from zq.core.messages import ResultMsg
from zq.core.progress import TaskProgress, TaskState
from zq.exceptions import ResultGetError, ResultSetError
from zq.result import TaskiqResult
from zq.serializers.base import TaskiqSerializer

_ReturnType = TypeVar("_ReturnType")
log = logging.getLogger("zq.backends")


async def store_results(
    backend: AsyncResultBackend[Any], serializer: TaskiqSerializer, results: list[ResultMsg]
) -> None:
    """Store results that reached this process in a plugged-in backend.

    A failure is logged at ERROR and remembered, so that a caller polling that backend for
    the result gets an error result instead of waiting for ever (``failed_save``).
    """
    for msg in results:
        try:
            await backend.set_result(msg.task_id, TaskiqResult.from_message(msg, serializer))
        except Exception as exc:
            name = type(backend).__name__
            log.exception("the result backend %s could not store task %s", name, msg.task_id)
            _remember(backend, msg.task_id, f"{name} could not store the result: {exc!r}")


MAX_FAILED_SAVES = 10_000  # per backend: the most recent failures, for waiters still polling
_failed_saves: weakref.WeakKeyDictionary[Any, OrderedDict[str, str]] = weakref.WeakKeyDictionary()


def _remember(backend: AsyncResultBackend[Any], task_id: str, reason: str) -> None:
    try:
        failed = _failed_saves.setdefault(backend, OrderedDict())
    except TypeError:  # a backend that cannot be weakly referenced: its waiters time out
        return
    failed[task_id] = reason
    if len(failed) > MAX_FAILED_SAVES:
        failed.popitem(last=False)


def failed_save(backend: AsyncResultBackend[Any], task_id: str) -> TaskiqResult[Any] | None:
    """The error result for ``task_id`` if ``backend`` failed to store its result, else None."""
    try:
        failed = _failed_saves.get(backend)
        reason = None if failed is None else failed.get(task_id)
    except TypeError:
        return None
    if reason is None:
        return None
    error = ResultSetError(f"task {task_id} finished, but {reason}")
    return TaskiqResult(is_err=True, return_value=None, execution_time=0.0, error=error)


def encode_progress(serializer: TaskiqSerializer, progress: TaskProgress[Any]) -> bytes:
    """A progress report as bytes, with the broker's serializer (``meta`` is user data)."""
    return serializer.dumpb([str(getattr(progress.state, "value", progress.state)), progress.meta])


def decode_progress(serializer: TaskiqSerializer, payload: bytes) -> TaskProgress[Any]:
    """The ``TaskProgress`` that ``encode_progress`` encoded."""
    state, meta = serializer.loadb(payload)
    known = state in TaskState._value2member_map_
    return TaskProgress(state=TaskState(state) if known else state, meta=meta)


class EmbeddedResultBackend(AsyncResultBackend[Any]):
    """The process's own ResultStore, with push-based waiting (``wait_for``, ``wait_all``).

    ``fetch`` (set by ``ZeroMQBroker``) asks the dispatcher for results of tasks this process
    did not kick; ``report`` (set in worker processes) sends progress to the dispatcher.
    """

    def __init__(
        self,
        store: ResultStore,
        serializer: TaskiqSerializer,
        *,
        fetch: Callable[[list[str]], Awaitable[None]] | None = None,
        report: Callable[[str, bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.serializer = serializer
        self.fetch = fetch
        self.report = report

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        """Store a result produced outside the dispatcher (e.g. by a local execution)."""
        self.store.put([result.to_message(task_id, self.serializer)])

    async def is_result_ready(self, task_id: str) -> bool:
        """Whether a result for ``task_id`` is here (asks the dispatcher for it if not)."""
        if self.store.peek(task_id) is not None:
            return True
        if self.fetch is not None:
            await self.fetch([task_id])
        return False

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        """The stored result; ``ResultGetError`` if there is none (yet)."""
        msg = self.store.peek(task_id)
        if msg is None:
            if self.fetch is not None:
                await self.fetch([task_id])
            raise ResultGetError(f"no result for task {task_id} (yet)")
        return TaskiqResult.from_message(msg, self.serializer)

    async def wait_for(
        self,
        task_id: str,
        return_type: Any = None,
        *,
        fetch: bool = False,
        timeout: float | None = None,
    ) -> TaskiqResult[Any]:
        """The result of ``task_id``, as soon as it arrives; ``TimeoutError`` after ``timeout``.

        ``fetch``: the task was kicked elsewhere, so ask the dispatcher to send its result here.
        """
        if fetch and self.fetch is not None:
            async with asyncio.timeout(timeout):
                await self.fetch([task_id])
                msg = await self.store.result(task_id)
        else:
            msg = await self.store.result(task_id, timeout)
        return TaskiqResult.from_message(msg, self.serializer, return_type)

    async def wait_all(
        self, task_ids: list[str], return_types: list[Any], *, fetch: list[str] | None = None
    ) -> list[TaskiqResult[Any]]:
        """The results of ``task_ids`` in order, once all have arrived (one waiter in all).

        ``fetch``: those of them kicked elsewhere, whose results the dispatcher sends here.
        """
        if fetch and self.fetch is not None:
            await self.fetch(fetch)
        msgs = await self.store.results(task_ids)
        serializer = self.serializer
        return [
            TaskiqResult.from_message(m, serializer, t)
            for m, t in zip(msgs, return_types, strict=True)
        ]

    def give_up(self, task_id: str) -> None:
        """A waiter for ``task_id`` timed out: let the store drop it."""
        self.store.unwait(task_id)

    async def set_progress(self, task_id: str, progress: TaskProgress[Any]) -> None:
        """Keep the progress here and, in a worker, send it to the task's dispatcher."""
        payload = encode_progress(self.serializer, progress)
        self.store.put_progress([(task_id, payload)])
        if self.report is not None:
            await self.report(task_id, payload)

    async def wait_progress(
        self, task_id: str, seen: TaskProgress[Any] | None = None, *, fetch: bool = False
    ) -> TaskProgress[Any]:
        """The task's progress as soon as there is one that differs from ``seen``."""
        if fetch and self.fetch is not None:
            await self.fetch([task_id])
        known = None if seen is None else encode_progress(self.serializer, seen)
        payload = await self.store.next_progress(task_id, known)
        return decode_progress(self.serializer, payload)

    async def get_progress(self, task_id: str) -> TaskProgress[Any] | None:
        """The last progress report of ``task_id`` that reached this process."""
        payload = self.store.progress(task_id)
        if payload is None:
            if self.fetch is not None:
                await self.fetch([task_id])
            return None
        return decode_progress(self.serializer, payload)
