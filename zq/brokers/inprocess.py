"""Workers inside the application's own process (``broker.arun_worker``, ``broker.run_worker``).

The same Executor and Receiver as ``zq worker``, without the supervisor: ``workers`` executors
join the broker's dispatcher (its own, or the one it joined) from this event loop, each with
``max_async_tasks`` slots; sync tasks run in each one's thread pool. They stop, draining like a
worker child, when ``broker.request_shutdown()`` is called from any thread or a signal handler.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from zq.abc.broker import AsyncBroker
from zq.actors.executor import Executor
from zq.actors.ports import TaskPort, TaskRunner
from zq.actors.results import ResultStore
from zq.receiver import Receiver
from zq.transport.sockets import SocketConfig

if TYPE_CHECKING:
    from zq.brokers.zmq_broker import ZeroMQBroker

log = logging.getLogger("zq.worker")


class ShutdownSwitch:
    """A stop request that any thread (or a signal handler) may flip, once a loop listens.

    Lock-free on purpose: a signal handler runs in the main thread between bytecodes, and a lock
    that thread already held would deadlock it. A listener registers before it reads the flag,
    so a request is seen either through the flag or through the listener list.
    """

    def __init__(self) -> None:
        self._requested = False
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def request(self) -> None:
        """Ask every running in-process worker to stop."""
        self._requested = True
        for loop, event in list(self._listeners):
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Wait for a request (one made before the wait counts)."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        self._listeners.append(entry)
        try:
            if not self._requested:
                await event.wait()
        finally:
            self._listeners.remove(entry)
            self._requested = False


def build_executor(
    broker: AsyncBroker,
    runner: TaskRunner,
    addresses: list[str],
    *,
    max_async_tasks: int,
    max_prefetch: int = 0,
    queues: list[str] | None = None,
    max_tasks: int | None = None,
    results: ResultStore | None = None,
) -> Executor:
    """The one place an executor is built, for ``zq worker`` children and in-process workers.

    It follows the app's broker: a ``ZeroMQBroker``'s heartbeat, liveness timeout and socket
    settings (CURVE keys, message size); other brokers get the defaults.
    """
    settings: dict[str, Any] = getattr(broker, "executor_settings", dict)()
    return Executor(
        runner,
        addresses,
        max_async_tasks=max_async_tasks,
        max_prefetch=max_prefetch,
        queues=queues,
        max_tasks=max_tasks,
        results=results,
        **settings,
    )


async def run_executors(
    broker: ZeroMQBroker,
    *,
    queues: list[str] | None,
    workers: int,
    max_async_tasks: int,
    max_prefetch: int,
    max_threadpool_threads: int | None,
    ack_type: str,
    wait_tasks_timeout_s: float | None,
) -> int:
    """Run ``workers`` executors against ``broker``'s dispatcher until a shutdown request."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    started_here = broker.result_store is None
    if started_here:
        await broker.startup()
    executors = [
        build_executor(
            broker,
            Receiver(broker, max_threadpool_threads, ack_type=ack_type),
            broker.dispatcher_addresses(queues or []),
            max_async_tasks=max_async_tasks,
            max_prefetch=max_prefetch,
            queues=queues,
            results=broker.result_store,
        )
        for _ in range(workers)
    ]
    try:
        for executor in executors:
            await executor.start()
        log.info(
            "in-process worker: %d executor(s) on %s, queues: %s",
            workers,
            broker.endpoint,
            ", ".join(queues or []) or "all",
        )
        stopped = asyncio.get_running_loop().create_task(broker.shutdown_switch.wait())
        died = [asyncio.ensure_future(_death(executor)) for executor in executors]
        await asyncio.wait([stopped, *died], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for future in died:
            future.cancel()
    finally:
        await asyncio.gather(
            *(e.drain(wait_tasks_timeout_s) for e in executors if e.alive),
            return_exceptions=True,
        )
        if started_here:
            await broker.shutdown()
    return sum(executor.tasks_run for executor in executors)


class InProcessWorkers:
    """``ZeroMQBroker``'s executors: in-process workers, and what any executor is set up with.

    ``arun_worker``, ``run_worker`` and their stop; ``executor_settings``, ``attach_port``.
    """

    shutdown_switch: ShutdownSwitch
    heartbeat_s: float
    liveness_timeout_s: float
    _worker_port: TaskPort | None

    if TYPE_CHECKING:

        def socket_config(self) -> SocketConfig: ...

    def executor_settings(self) -> dict[str, Any]:
        """What an executor of this app follows (``zq.brokers.inprocess.build_executor``)."""
        return {
            "heartbeat_s": self.heartbeat_s,
            "liveness_timeout_s": self.liveness_timeout_s,
            "config": self.socket_config(),
        }

    def attach_port(self, port: TaskPort) -> None:
        """In a worker process: kicks and progress from outside any task go out by ``port``.

        (Inside a task they go to the dispatcher that leased it: ``current_port``.)
        """
        self._worker_port = port

    async def arun_worker(
        self,
        queues: list[str] | None = None,
        workers: int = 1,
        *,
        max_async_tasks: int = 100,
        max_prefetch: int = 0,
        max_threadpool_threads: int | None = None,
        ack_type: str = "when_saved",
        wait_tasks_timeout_s: float | None = None,
    ) -> int:
        """Run workers in the current event loop until ``request_shutdown()``.

        Then they drain like ``zq worker``. Returns the number of tasks they ran.

        ``workers`` executors join the dispatcher (this process's own, or the one the broker
        joined), each running up to ``max_async_tasks`` tasks at once; ``queues`` limits them to
        those named queues. Starts (and then stops) the broker if it is not started.
        """
        return await run_executors(
            cast("ZeroMQBroker", self),
            queues=queues,
            workers=workers,
            max_async_tasks=max_async_tasks,
            max_prefetch=max_prefetch,
            max_threadpool_threads=max_threadpool_threads,
            ack_type=ack_type,
            wait_tasks_timeout_s=wait_tasks_timeout_s,
        )

    def run_worker(self, queues: list[str] | None = None, workers: int = 1, **options: Any) -> int:
        """``arun_worker`` in a new event loop: blocks until ``request_shutdown()``.

        The broker must not be started in another event loop. The loop is asyncio's own
        (uvloop is an optional choice of ``zq worker``): for uvloop here, run
        ``uvloop.run(broker.arun_worker(...))`` yourself.
        """
        with asyncio.Runner() as runner:
            return runner.run(self.arun_worker(queues, workers, **options))

    def request_shutdown(self) -> None:
        """Stop the in-process workers (``run_worker``, ``arun_worker``).

        Safe from any thread and from a signal handler; a request made before they start stops
        them as soon as they do.
        """
        self.shutdown_switch.request()


async def _death(executor: Executor) -> None:
    died: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_death(_actor: object, _error: BaseException | None) -> None:
        if not died.done():
            died.set_result(None)

    executor.watch(on_death)
    await died
