"""Submitter: a producer that found its address taken joins that dispatcher over a DEALER.

It sends its tasks in ``Submit`` batches and receives their results in ``Forward`` batches. It
keeps every task until its result arrives, and submits the unfinished ones again if the
dispatcher restarts (a new incarnation), so a joined producer loses nothing a dispatcher
restart could have lost; the dispatcher and the result store drop the duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import zmq

from zq.actors.admission import Admission
from zq.actors.base import Actor
from zq.actors.results import FetchResults, ResultStore
from zq.core.framing import decoded
from zq.core.liveness import Liveness
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_PRODUCER,
    Busy,
    Fetch,
    Forward,
    Heartbeat,
    Hello,
    Message,
    Refuse,
    Rejoin,
    Submit,
    TaskMsg,
    Welcome,
)
from zq.exceptions import AddressInUseError, RemoteProtocolError, SecurityConfigError
from zq.transport import sockets
from zq.transport.channel import Channel, bad_frame_logger
from zq.transport.curve import HandshakeWatch, check_libzmq

log = logging.getLogger("zq.submitter")


@dataclass(slots=True, frozen=True)
class _Tick:
    pass


class Submitter(Actor):
    """Joins the dispatcher at ``address`` as a producer."""

    def __init__(
        self,
        address: str,
        results: ResultStore,
        *,
        join_timeout_s: float = 5.0,
        heartbeat_s: float = 1.0,
        config: sockets.SocketConfig | None = None,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__("submitter")
        # bounds the unfinished tasks it keeps
        self.admission = Admission(max_pending, lambda: len(self._unfinished))
        self.address = address
        self.join_timeout_s = join_timeout_s
        self.heartbeat_s = heartbeat_s
        self.config = config or sockets.SocketConfig()
        self.session = uuid.uuid4().hex
        self._results = results
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._channel: Channel | None = None
        self._unfinished: dict[str, TaskMsg] = {}
        self._outgoing: list[TaskMsg] = []
        self._handed_back: list[TaskMsg] = []  # handed back by a full dispatcher (Busy)
        self._incarnation = ""
        self._welcomed: asyncio.Event | None = None
        # Heartbeats only: it is the dispatcher that times peers out (zq.core.liveness).
        self._liveness: Liveness[str] = Liveness(heartbeat_s, float("inf"))

    async def on_start(self) -> None:
        assert self._loop is not None
        check_libzmq(curve=self.config.curve is not None)
        self._ctx = zmq.Context()
        sock = sockets.dealer(self._ctx, self.address, self.session.encode(), self.config)
        watch = HandshakeWatch(sock, curve=self.config.curve is not None)
        self._channel = Channel(sock, self._wake)
        self._channel.attach(self._loop)
        self._welcomed = asyncio.Event()
        loop = self._loop
        deadline = loop.time() + self.join_timeout_s
        # The actor loop is not running yet: wait for the welcome here, re-sending the hello
        # (it is dropped while the connection is not up yet, since DEALERs are IMMEDIATE).
        while True:
            self._hello()
            self.poll_io()
            if self._welcomed.is_set():
                break
            if loop.time() > deadline:
                problem = watch.problem()
                watch.close()
                if problem is not None and self.config.curve is not None:
                    raise SecurityConfigError(
                        f"cannot join the dispatcher at {self.address}: {problem}"
                    )
                raise AddressInUseError(
                    f"{self.address} is in use, but no zq dispatcher answered there within "
                    f"{self.join_timeout_s:g}s: is another program bound to it?"
                )
            self._wakeup = loop.create_future()  # set by input on the socket
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup, 0.05)
            self._wakeup = None
        watch.close()
        self.send_after(self.heartbeat_s / 2, _Tick())

    async def on_stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._ctx is not None:
            self._ctx.term()

    def receive(self, message: Any) -> None:
        if type(message) is TaskMsg:
            self.admission.arrived()
            if message.task_id not in self._unfinished:
                self._unfinished[message.task_id] = message
                self._outgoing.append(message)
        elif type(message) is FetchResults:
            self._send(Fetch(message.task_ids))
        elif type(message) is _Tick:
            assert self._loop is not None
            if self._handed_back:
                self._outgoing.extend(t for t in self._handed_back if t.task_id in self._unfinished)
                self._handed_back = []
            elif self._liveness.quiet_for(self.address, self._loop.time()) >= self.heartbeat_s:
                self._send(Heartbeat())
            self.send_after(self.heartbeat_s / 2, _Tick())
        else:
            super().receive(message)

    def poll_io(self) -> bool:
        assert self._channel is not None
        batch = self._channel.recv_batch()
        for _, message in decoded(
            batch, routed=False, on_error=bad_frame_logger(log, self.address)
        ):
            self._handle(message)
        return bool(batch) and self._channel.readable()

    def io_waiting(self) -> bool:
        return self._channel is not None and self._channel.readable()

    def _handle(self, message: Message) -> None:
        match message:
            case Forward():
                self._forwarded(message)
            case Welcome(incarnation=incarnation):
                self._welcome(incarnation)
            case Busy(tasks=tasks):  # the dispatcher is full: again on the next tick
                self._handed_back.extend(tasks)
            case Rejoin():
                self._hello()
            case Refuse(reason=reason):
                raise RemoteProtocolError(f"dispatcher {self.address} refused us: {reason}")
            case Heartbeat():
                pass
            case _:
                log.warning("unexpected %s from %s", type(message).__name__, self.address)

    def _forwarded(self, message: Forward) -> None:
        for result in message.results:
            self._unfinished.pop(result.task_id, None)
        if self.admission.queued:
            self.admission.room()
        self._results.forwarded(message)

    def _welcome(self, incarnation: str) -> None:
        assert self._welcomed is not None
        self._welcomed.set()
        if self._incarnation and incarnation != self._incarnation:
            log.warning(
                "dispatcher %s restarted: submitting %d unfinished task(s) again",
                self.address,
                len(self._unfinished),
            )
            self._outgoing = list(self._unfinished.values())
        self._incarnation = incarnation

    async def submit(self, task: TaskMsg) -> None:
        """A ``kiq()`` of this process, already admitted (``admission``): hand it over.

        Its place is given back if the hand-over fails.
        """
        try:
            await self.tell(task)
        except BaseException:
            self.admission.leave()
            raise

    def after_batch(self) -> None:
        self.admission.held = len(self._unfinished)  # what kiq() callers see until the next
        if self._outgoing:
            self._send(Submit(self._outgoing))
            self._outgoing = []
        assert self._channel is not None
        if self._channel.backlog:
            self._channel.flush()

    def _hello(self) -> None:
        hello = Hello(
            ROLE_PRODUCER, PROTOCOL_VERSION, self.session, os.getpid(), socket.gethostname()
        )
        self._send(hello, queue=False)

    def _send(self, message: Message, *, queue: bool = True) -> None:
        assert self._channel is not None and self._loop is not None
        if self._channel.send_message(message, self.config.max_msg_size, queue=queue):
            self._liveness.sent(self.address, self._loop.time())
