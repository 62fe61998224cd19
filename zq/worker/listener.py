"""Running a broker of your own (taskiq's contract): what its ``listen()`` yields, run here.

zq's own brokers need none of this (workers join their dispatcher). A broker written as taskiq
documents it (``kick(BrokerMessage)``, ``listen()`` yielding bytes or ``AckableMessage``) is run
by ``zq worker`` and ``zq.api.run_receiver_task`` through this loop: each message is decoded with
the broker's formatter, run by the same receiver as any zq task (middlewares, dependencies,
casting, timeouts), its result stored in the broker's result backend, and the message
acknowledged as ``--ack-type`` says (by default once the result is saved).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from zq.abc.broker import AsyncBroker
from zq.acks import AckController, AcknowledgeType
from zq.actors.ports import StreamSink
from zq.core.messages import CancelOutcome, TaskMsg
from zq.core.remote_errors import is_zq_error
from zq.exceptions import NoResultError
from zq.kicker import DEFAULT_QUEUE
from zq.receiver import Receiver
from zq.result import TaskiqResult
from zq.result_backends.embedded import decode_progress

__all__ = ["BrokerListener", "serve_listener"]

log = logging.getLogger("zq.worker")


class _ListenPort:
    """A running task's way back, for a broker of one's own: kicks go through the broker."""

    def __init__(self, broker: AsyncBroker, acks: AckController) -> None:
        self.broker = broker
        self.acks = acks

    async def submit(self, task: TaskMsg) -> None:
        await self.broker.kick(task)

    async def progress(self, task_id: str, payload: bytes) -> None:
        progress = decode_progress(self.broker.serializer, payload)
        await self.broker.result_backend.set_progress(task_id, progress)

    async def ack(self, task_id: str) -> None:
        if self.acks.is_ackable:
            await self.acks.ack()

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        return await self.broker.cancel_many(task_ids)

    def open_stream(self, task_id: str, window: int) -> StreamSink:
        raise TypeError(
            f"task {task_id} is a generator: its items stream to the caller only through zq's "
            f"own brokers, not through {type(self.broker).__name__}"
        )


class BrokerListener:
    """Runs what ``broker.listen()`` yields, at most ``max_async_tasks`` at once."""

    def __init__(self, broker: AsyncBroker, receiver: Receiver, max_async_tasks: int) -> None:
        if not broker.listens():
            raise TypeError(f"{type(broker).__name__} has no listen(): zq worker joins it")
        self.broker = broker
        self.receiver = receiver
        self.slots = asyncio.Semaphore(max_async_tasks)
        self.max_async_tasks = max_async_tasks
        self.running: set[asyncio.Task[None]] = set()
        self.tasks_run = 0

    async def run(self) -> None:
        """Take messages until the broker's ``listen()`` ends or this is cancelled."""
        async for item in self.broker.listen():
            await self.slots.acquire()
            task = asyncio.get_running_loop().create_task(self._handle(item))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def finish(self, timeout_s: float | None = None) -> int:
        """Wait for the running tasks (cancelled after ``timeout_s``); returns those unfinished.

        A cancelled task's message is not acknowledged, so the broker can deliver it again.
        """
        if not self.running:
            return 0
        _done, pending = await asyncio.wait(set(self.running), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    async def _handle(self, item: Any) -> None:
        data, ack = (item, None) if isinstance(item, bytes | bytearray) else (item.data, item.ack)
        acks = AckController(ack)
        try:
            task = self._decode(bytes(data))
            if task is None:
                await self._ack(acks)  # undecodable: acknowledged, or it would come back forever
                return
            result = await self.receiver.run(task, _ListenPort(self.broker, acks))
            self.tasks_run += 1
            if not is_zq_error(result.error, NoResultError):
                value = TaskiqResult.from_message(result, self.broker.serializer)
                await self.broker.result_backend.set_result(task.task_id, value)
            manual = task.labels.get("ack_type", self.receiver.ack_type) == AcknowledgeType.MANUAL
            if not manual:  # a manual ack is the task's own (``context.ack()``)
                await self._ack(acks)
        except Exception:
            log.exception("a message from %s could not be handled", type(self.broker).__name__)
        finally:
            self.slots.release()

    def _decode(self, data: bytes) -> TaskMsg | None:
        try:
            message = self.broker.formatter.loads(data)
            payload = self.broker.serializer.dumpb([message.args, message.kwargs])
        except Exception as exc:
            log.error("cannot decode a message from %s", type(self.broker).__name__, exc_info=exc)
            return None
        queue = str(message.labels.get("queue", DEFAULT_QUEUE))
        return TaskMsg(message.task_id, message.task_name, payload, message.labels, queue)

    async def _ack(self, acks: AckController) -> None:
        if acks.is_ackable:
            await acks.ack()


async def serve_listener(
    broker: AsyncBroker,
    receiver: Receiver,
    max_async_tasks: int,
    stop: asyncio.Event,
    wait_tasks_timeout_s: float | None,
) -> BrokerListener:
    """Listen until ``stop`` is set (or ``listen()`` ends), then let running tasks finish.

    The broker must be started; ``receiver`` is started and shut down here.
    """
    listener = BrokerListener(broker, receiver, max_async_tasks)
    receiver.startup()
    loop = asyncio.get_running_loop()
    listening = loop.create_task(listener.run())
    stopping = loop.create_task(stop.wait())
    try:
        await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        listening.cancel()
        outcome = (await asyncio.gather(listening, return_exceptions=True))[0]
        if isinstance(outcome, Exception):
            log.error("%s.listen() failed", type(broker).__name__, exc_info=outcome)
        unfinished = await listener.finish(wait_tasks_timeout_s)
        if unfinished:
            log.warning("cancelled %d task(s) still running; not acknowledged", unfinished)
        receiver.shutdown()
    return listener
