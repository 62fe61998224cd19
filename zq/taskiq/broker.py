"""``ZeroMQBroker`` for taskiq: taskiq's broker interface (kick, listen) over zq's dispatcher.

The process that kicks embeds a zq broker (the engine) that binds the address or joins the
dispatcher already there, exactly as ``zq.ZeroMQBroker`` does. A ``taskiq worker`` process runs
a zq executor against that address; each task the dispatcher assigns it is yielded from
``listen()`` as an ``AckableMessage``, and the lease on it ends when taskiq's receiver
acknowledges it (``--ack-type``). Results travel as taskiq has them travel: through the broker's
result backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from time import perf_counter
from typing import Any

from taskiq import AckableMessage, AsyncResultBackend, BrokerMessage
from taskiq import AsyncBroker as TaskiqAsyncBroker

from zq.actors.executor import Executor
from zq.actors.ports import TaskPort
from zq.brokers.inprocess import build_executor
from zq.brokers.zmq_broker import ZeroMQBroker as Engine
from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import describe
from zq.exceptions import NoResultError, SendTaskError
from zq.kicker import DEFAULT_QUEUE, portable_labels

__all__ = ["ZeroMQBroker"]

log = logging.getLogger("zq.taskiq")


class _Bridge:
    """The executor's task runner: hands each task to ``listen()``, done when it is acked.

    A task still waiting in the inbox when ``listen()`` ends was never seen by taskiq's
    receiver: it is handed back to the dispatcher (resubmitted under its id, this run ending
    without a result, as ``Context.requeue`` does), so another worker runs it.
    """

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self.inbox: asyncio.Queue[tuple[AckableMessage, asyncio.Future[bool]]] = asyncio.Queue()
        self.names = names
        self.closed = False
        self.port: TaskPort | None = None  # the last lease's way back, for kicks from tasks

    def startup(self) -> None:
        """Nothing to acquire: taskiq's receiver runs the tasks."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def task_names(self) -> list[str]:
        """The tasks registered on the taskiq broker (said in the executor's Hello)."""
        return self.names()

    async def run(self, task: TaskMsg, port: TaskPort | None = None) -> ResultMsg:
        """Yield the task to taskiq's receiver; the lease ends when it acknowledges it."""
        self.port = port or self.port
        start = perf_counter()
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            if not done.done():
                done.set_result(True)

        if self.closed:
            done.set_result(False)
        else:
            await self.inbox.put((AckableMessage(data=task.payload, ack=ack), done))
        if await done:
            # The value went to taskiq's result backend; the dispatcher learns it is done.
            return ResultMsg(task.task_id, False, b"", perf_counter() - start, task.labels)
        assert port is not None, "an executor gives every task its port"
        await port.submit(task)
        return ResultMsg(
            task.task_id, True, b"", perf_counter() - start, task.labels, describe(NoResultError())
        )

    async def next(self) -> AckableMessage:
        """The next task for taskiq's receiver."""
        message, _done = await self.inbox.get()
        return message

    def close(self) -> int:
        """Hand back every task taskiq's receiver has not taken; returns how many."""
        self.closed = True
        handed = 0
        while not self.inbox.empty():
            _message, done = self.inbox.get_nowait()
            if not done.done():
                done.set_result(False)
                handed += 1
        return handed


class ZeroMQBroker(TaskiqAsyncBroker):
    """A taskiq broker with no broker server: zq's dispatcher, embedded in the kicking process.

    ``address`` is where the app's dispatcher is (bound by the first process of the app to
    start; the others, and ``taskiq worker``, join it). ``max_async_tasks``: tasks one worker
    process holds at once (taskiq's receiver has its own limit too). ``shutdown_timeout_s``:
    how long a stopping worker waits for the tasks it took, and a stopping client for its
    dispatcher to hand over what it holds (as in ``zq.ZeroMQBroker``). Other keyword arguments
    go to ``zq.ZeroMQBroker`` (``journal``, ``curve_key``, ``heartbeat_s``...).
    """

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:5555",
        result_backend: AsyncResultBackend[Any] | None = None,
        task_id_generator: Callable[[], str] | None = None,
        *,
        max_async_tasks: int = 100,
        shutdown_timeout_s: float = 30.0,
        **engine_options: Any,
    ) -> None:
        super().__init__(result_backend=result_backend, task_id_generator=task_id_generator)
        self.address = address
        self.max_async_tasks = max_async_tasks
        self.shutdown_timeout_s = shutdown_timeout_s
        self.engine = Engine(address, shutdown_timeout_s=shutdown_timeout_s, **engine_options)
        self._bridge: _Bridge | None = None
        self._executor: Executor | None = None

    async def startup(self) -> None:
        """Start taskiq's side (events, backend); a client also binds or joins the dispatcher."""
        await super().startup()
        if not self.is_worker_process:
            await self.engine.startup()

    async def shutdown(self) -> None:
        """Stop listening, let the dispatcher run what it holds (a client), then taskiq's side."""
        if self._executor is not None and self._executor.alive:
            await self._executor.drain()
        self._executor = None
        if self.engine.result_store is not None:
            await self.engine.shutdown()
        await super().shutdown()

    async def kick(self, message: BrokerMessage) -> None:
        """Hand the task to the dispatcher (from a task in a worker: to the one that leased it)."""
        labels = message.labels
        task = TaskMsg(
            message.task_id,
            message.task_name,
            message.message,
            portable_labels(labels),
            str(labels.get("queue", DEFAULT_QUEUE)),
        )
        port = self._bridge.port if self._bridge is not None else None
        if port is not None and self.engine.result_store is None:
            await port.submit(task)
            return
        if self.engine.result_store is None:
            raise SendTaskError("the broker is not started: `await broker.startup()` before kiq()")
        await self.engine.kick(task)

    async def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        """Join the dispatcher as an executor; yield each task it assigns, as taskiq expects."""
        bridge = self._bridge = _Bridge(lambda: sorted(self.get_all_tasks()))
        executor = self._executor = build_executor(
            self.engine, bridge, [self.address], max_async_tasks=self.max_async_tasks
        )
        await executor.start()
        log.info(
            "taskiq worker on zq: %d task(s) registered, dispatcher %s",
            len(bridge.task_names()),
            self.address,
        )
        try:
            while True:
                yield await bridge.next()
        finally:
            handed = bridge.close()
            if handed:
                log.info("handed %d task(s) not yet started back to the dispatcher", handed)
            if executor.alive:  # taskiq's receiver runs (and acks) what it took before this
                await executor.drain(self.shutdown_timeout_s)
