"""``InMemoryBroker``: the same API in one process, for tests. Tasks run on the caller's loop."""

from __future__ import annotations

import asyncio

from zq.actors.results import Put, ResultStore
from zq.backends import EmbeddedResultBackend
from zq.broker import AsyncBroker
from zq.exceptions import SendTaskError
from zq.messages import TaskMsg
from zq.receiver import Receiver


class InMemoryBroker(AsyncBroker):
    """Runs each kicked task in this process, through the same execution pipeline as a worker.

    ``await broker.wait_all()`` waits until every kicked task has finished (like dramatiq's
    stub broker ``join()``).
    """

    def __init__(self, max_stored_results: int = 100_000, max_async_tasks: int = 100) -> None:
        super().__init__()
        self.max_stored_results = max_stored_results
        self.max_async_tasks = max_async_tasks
        self._store: ResultStore | None = None
        self._receiver: Receiver | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None

    async def startup(self) -> None:
        """Start the result store and the execution pipeline."""
        await super().startup()
        if self._store is not None:
            return
        self._store = ResultStore(self.max_stored_results)
        await self._store.start()
        self.result_backend = EmbeddedResultBackend(self._store, self.serializer)
        self._receiver = Receiver(self)
        self._receiver.startup()
        self._slots = asyncio.Semaphore(self.max_async_tasks)

    async def shutdown(self) -> None:
        """Wait for running tasks, then stop."""
        await self.wait_all()
        if self._receiver is not None:
            self._receiver.shutdown()
        if self._store is not None:
            await self._store.stop()
        self._store = self._receiver = None
        await super().shutdown()

    async def kick(self, message: TaskMsg) -> None:
        """Start running the task in the background."""
        if self._receiver is None or self._slots is None:
            raise SendTaskError(
                "the broker is not started: `await broker.startup()` or `async with broker:`"
            )
        task = asyncio.get_running_loop().create_task(self._run(message))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, message: TaskMsg) -> None:
        assert self._receiver is not None and self._slots is not None and self._store is not None
        async with self._slots:
            result = await self._receiver.run(message)
        await self._store.tell(Put([result]))

    async def wait_all(self) -> None:
        """Wait until every task kicked so far has finished."""
        while self._running:
            await asyncio.gather(*list(self._running))
