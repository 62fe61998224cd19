"""``run_receiver_task``: a worker inside your own event loop (taskiq's ``taskiq.api``)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from zq.abc.broker import AsyncBroker
from zq.acks import AcknowledgeType
from zq.receiver import Receiver
from zq.worker.listener import serve_listener

__all__ = ["run_receiver_task"]


async def run_receiver_task(
    broker: AsyncBroker,
    receiver_cls: type[Receiver] = Receiver,
    sync_workers: int | None = None,
    validate_params: bool = True,
    max_async_tasks: int = 100,
    max_async_tasks_jitter: int = 0,
    max_prefetch: int = 0,
    propagate_exceptions: bool = True,
    run_startup: bool = False,
    ack_time: AcknowledgeType | None = None,
    use_process_pool: bool = False,
) -> None:
    """Run tasks of ``broker`` in this event loop until cancelled (taskiq's signature).

    zq runs an in-process executor joined to the broker's dispatcher (``broker.arun_worker``);
    cancelling this coroutine asks it to stop and waits while it drains. A broker of the app's
    own (``kick`` and ``listen``, as taskiq documents) is listened to instead. What an in-process
    executor cannot do is refused here, by name: another receiver class or a process pool
    (``zq worker --receiver`` / ``--use-process-pool`` do those).
    """
    if receiver_cls is not Receiver:
        raise TypeError(
            f"run_receiver_task cannot use {receiver_cls.__qualname__} in process: "
            "run `zq worker APP --receiver MODULE:CLASS` instead"
        )
    if use_process_pool:
        raise TypeError("run_receiver_task has no process pool: run `zq worker --use-process-pool`")
    if run_startup:
        await broker.startup()
    if broker.listens():  # a broker of the app's own (taskiq's contract)
        receiver = Receiver(
            broker,
            sync_workers,
            validate_params=validate_params,
            propagate_exceptions=propagate_exceptions,
            ack_type=ack_time or AcknowledgeType.WHEN_SAVED,
        )
        await _listen_until_cancelled(broker, receiver, max_async_tasks)
        return
    run = getattr(broker, "arun_worker", None)
    if run is None:
        raise TypeError(f"{type(broker).__name__} runs its tasks itself; it has no worker to run")
    options: dict[str, Any] = {
        "max_async_tasks": max_async_tasks,
        "max_prefetch": max_prefetch,
        "max_threadpool_threads": sync_workers,
    }
    if ack_time is not None:
        options["ack_type"] = AcknowledgeType(ack_time).value
    worker = asyncio.ensure_future(run(**options))
    try:
        await asyncio.shield(worker)
    except asyncio.CancelledError:
        broker.request_shutdown()  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            await worker  # drained as `zq worker` drains on SIGTERM
        raise


async def _listen_until_cancelled(broker: AsyncBroker, receiver: Receiver, limit: int) -> None:
    stop = asyncio.Event()
    serving = asyncio.ensure_future(serve_listener(broker, receiver, limit, stop, None))
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        stop.set()  # running tasks finish (and are acknowledged) first
        await serving
        raise
