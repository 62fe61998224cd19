"""The per-task execution pipeline: find the task, decode its arguments, run it, encode the result.

Async tasks run on the event loop; sync tasks run in a thread pool so they never block it.
Used by the Executor actor in worker processes and by ``InMemoryBroker``; a subclass can be
plugged in with ``zq worker --receiver``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import TYPE_CHECKING, Any

from zq.exceptions import UnknownTaskError
from zq.messages import ResultMsg, TaskMsg
from zq.remote_errors import describe

if TYPE_CHECKING:
    from zq.broker import AsyncBroker

log = logging.getLogger("zq.receiver")


class Receiver:
    """Runs tasks of ``broker``'s registry; ``max_threadpool_threads`` bounds sync tasks."""

    def __init__(self, broker: AsyncBroker, max_threadpool_threads: int | None = None) -> None:
        self.broker = broker
        self.max_threadpool_threads = max_threadpool_threads
        self._pool: ThreadPoolExecutor | None = None

    def startup(self) -> None:
        """Create the thread pool for sync tasks."""
        self._pool = ThreadPoolExecutor(self.max_threadpool_threads, thread_name_prefix="zq-sync")

    def shutdown(self) -> None:
        """Release the thread pool; threads still running a sync task are not waited for."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(self, task: TaskMsg) -> ResultMsg:
        """Run one task to a result; never raises for the task's own failure."""
        start = perf_counter()
        try:
            value = await self._call(task)
            payload = self.broker.serializer.dumpb(value)
        except Exception as exc:
            log.debug("task %s (%s) failed", task.task_id, task.task_name, exc_info=True)
            return ResultMsg(
                task.task_id, True, b"", perf_counter() - start, task.labels, describe(exc)
            )
        return ResultMsg(task.task_id, False, payload, perf_counter() - start, task.labels)

    async def _call(self, task: TaskMsg) -> Any:
        decorated = self.broker.available_tasks.get(task.task_name)
        if decorated is None:
            raise UnknownTaskError(task_name=task.task_name)
        args, kwargs = self.broker.serializer.loadb(task.payload)
        func = decorated.original_func
        if decorated.is_async:
            return await func(*args, **kwargs)
        if self._pool is None:
            self.startup()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(func, *args, **kwargs))
