"""Submitter: a producer that found its address taken joins that dispatcher over a DEALER.

It sends its tasks in ``Submit`` batches and receives their results in ``Forward`` batches. It
keeps every task until its result arrives, and submits the unfinished ones again if the
dispatcher restarts (a new incarnation), so a joined producer loses nothing a dispatcher
restart could have lost; the dispatcher and the result store drop the duplicates.

When the dispatcher leaves (it says ``Leaving``, or is silent past the liveness timeout) the
submitter is *orphaned*: it closes its socket (so it cannot reach whoever binds next, this
process included, by accident), keeps taking ``kiq()``s, and calls ``on_orphaned``; the broker
then binds the address or joins whoever did, and moves the tasks over (``surrender``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
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
    Bye,
    Cancel,
    Cancelled,
    CancelOutcome,
    Copied,
    Copy,
    Drop,
    Farewell,
    Fetch,
    Forward,
    Handoff,
    Heartbeat,
    Hello,
    Leaving,
    Message,
    Read,
    Refuse,
    Rejoin,
    Resubmit,
    Submit,
    Taken,
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


@dataclass(slots=True, frozen=True)
class _Adopt:
    """Tasks another submitter held (``Submitter.adopt``)."""

    tasks: list[TaskMsg]


@dataclass(slots=True, frozen=True)
class _Held:
    """Ask: how many unfinished tasks (answered after the kicks before it were taken)."""


@dataclass(slots=True, frozen=True)
class _Cancel:
    """Ask: cancel these tasks; a future resolved with the dispatcher's outcomes."""

    task_ids: list[str]


@dataclass(slots=True, frozen=True)
class _Drain:
    """Ask: a future resolved once no task of this process waits for its result."""


class Submitter(Actor):
    """Joins the dispatcher at ``address`` as a producer."""

    def __init__(
        self,
        address: str,
        results: ResultStore,
        *,
        join_timeout_s: float = 5.0,
        heartbeat_s: float = 1.0,
        liveness_timeout_s: float = float("inf"),
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
        self._again: list[TaskMsg] = []  # submitted before, to a dispatcher that is gone
        self._handed_back: list[TaskMsg] = []  # handed back by a full dispatcher (Busy)
        self._incarnation = ""
        self._welcomed: asyncio.Event | None = None
        # The dispatcher silent past this: it is gone (crashed, or stalled), see ``orphaned``.
        self._liveness: Liveness[str] = Liveness(heartbeat_s, liveness_timeout_s)
        self.liveness_timeout_s = liveness_timeout_s
        self.orphaned: str | None = None  # why the dispatcher is gone; None while it serves
        self.leaving = False  # it said Leaving: it drains, takes nothing new, then says Farewell
        self.on_orphaned: Callable[[str], None] | None = None
        self._surrendered = False
        self._drained: asyncio.Future[None] | None = None  # ``drain``: nothing left to wait for
        self.on_disk: set[str] = set()  # unfinished tasks the dispatcher has journaled (Taken)
        # As the dispatcher's standby: its process's tasks, held here too (zq.actors.standby).
        self.copies: dict[str, TaskMsg] = {}
        self.handoff: Handoff | None = None  # the stopped dispatcher's records, for the next
        self._copied: int | None = None  # the Copy to acknowledge
        self._ref = 0  # of the last Cancel sent
        self._cancels: dict[int, asyncio.Future[list[CancelOutcome]]] = {}  # waiting for Cancelled

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
            if self._welcomed.is_set() or self.orphaned is not None:
                break
            # With CURVE a failed handshake is a key that does not match: final, say it now
            problem = watch.problem() if self.config.curve is not None else None
            if problem is not None:
                watch.close()
                raise SecurityConfigError(
                    f"cannot join the dispatcher at {self.address}: {problem}"
                )
            if loop.time() > deadline:
                watch.close()
                raise AddressInUseError(
                    f"no zq dispatcher answered at {self.address} within "
                    f"{self.join_timeout_s:g}s: is the app's dispatcher running there, and "
                    "is that address not taken by another program?"
                )
            self._wakeup = loop.create_future()  # set by input on the socket
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup, 0.05)
            self._wakeup = None
        watch.close()
        self._liveness.heard(self.address, loop.time())
        self.send_after(self.heartbeat_s / 2, _Tick())

    async def on_stop(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self._channel is not None:
            # Say we leave: if this was the standby, the dispatcher chooses another at once.
            self._channel.send_message(Bye(), self.config.max_msg_size, queue=False)
            self._channel.close(linger_ms=100)
        if self._ctx is not None:
            self._ctx.term()

    def receive(self, message: Any) -> None:
        if type(message) is TaskMsg:
            self.admission.arrived()
            self._take(message)
        elif type(message) is _Adopt:
            for task in message.tasks:
                self._take(task, again=True)
        elif type(message) is FetchResults:
            self._send(Fetch(message.task_ids))
        elif type(message) is Read:  # this process's stream readers, for the executors
            self._send(message)
        elif type(message) is _Tick:
            self._tick()
            self.send_after(self.heartbeat_s / 2, _Tick())
        else:
            super().receive(message)

    def answer(self, message: Any) -> Any:
        if type(message) is _Drain:
            assert self._loop is not None
            self._drained = self._loop.create_future()
            return self._drained
        if type(message) is _Held:
            return len(self._unfinished)
        if type(message) is _Cancel:  # answered by the dispatcher's Cancelled
            assert self._loop is not None
            self._ref += 1
            self._cancels[self._ref] = answer = self._loop.create_future()
            self._send(Cancel(message.task_ids, self._ref))
            return answer
        return super().answer(message)

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Ask the dispatcher to cancel these tasks; its outcome for each (``Cancelled``)."""
        outcomes: list[CancelOutcome] = await self.ask(_Cancel(task_ids))
        return outcomes

    async def held(self) -> int:
        """How many tasks kicked here have no result yet (kicks on their way included)."""
        count: int = await self.ask(_Held())
        return count

    @property
    def unfinished(self) -> list[str]:
        """Ids of the tasks kicked here that have no result yet."""
        return list(self._unfinished)

    async def drain(self) -> None:
        """Wait until every task submitted here has its result or is on the dispatcher's disk.

        The caller bounds the wait.
        """
        await self.ask(_Drain())

    def _take(self, task: TaskMsg, *, again: bool = False) -> None:
        if task.task_id not in self._unfinished:
            self._unfinished[task.task_id] = task
            (self._again if again else self._outgoing).append(task)

    def _tick(self) -> None:
        assert self._loop is not None
        if self.orphaned is not None:
            return
        now = self._loop.time()
        if self._liveness.silent_for(self.address, now) > self.liveness_timeout_s:
            self._orphan(f"silent for over {self.liveness_timeout_s:g}s")
        elif self._handed_back:
            self._outgoing.extend(t for t in self._handed_back if t.task_id in self._unfinished)
            self._handed_back = []
        elif self._liveness.quiet_for(self.address, now) >= self.heartbeat_s:
            self._send(Heartbeat())

    def _leaving(self) -> None:
        """The dispatcher drains before its process stops: new tasks wait here for the next one.

        The connection stays open until its ``Farewell`` (or its silence): results of what it
        runs still come, and as its standby this process still gets its ``Drop``s and records.
        """
        if not self.leaving:
            self.leaving = True
            log.info(
                "the dispatcher at %s is leaving: new tasks are held here for the next one",
                self.address,
            )

    def _orphan(self, why: str) -> None:
        """The dispatcher is gone: stop talking to the address; the broker finds the next one.

        ``kiq()`` calls wait from now on (``Admission.pause``) and go through to the next one.
        """
        self.orphaned = why
        self.admission.pause(f"the dispatcher at {self.address} {why}, and none took over yet")
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)  # a stopping broker follows the takeover instead
        if self._channel is not None:  # a Bye: the dispatcher may close now (see Depart)
            self._channel.send_message(Bye(), self.config.max_msg_size, queue=False)
            self._channel.close(linger_ms=100)
            self._channel = None
        log.warning(
            "the dispatcher at %s %s; holding %d unfinished task(s) for the next one",
            self.address,
            why,
            len(self._unfinished),
        )
        if self.on_orphaned is not None:
            self.on_orphaned(why)

    def adopt(self, tasks: list[TaskMsg], handoff: Handoff | None = None) -> None:
        """Take over another submitter's unfinished tasks (``surrender``): they go out next.

        ``handoff``: a gone dispatcher's records the other one held; they go to this one's.
        """
        self.tell_nowait(_Adopt(tasks))
        if handoff is not None:
            self._send(handoff)

    def surrender(self) -> list[TaskMsg]:
        """Give up every task this submitter holds (unfinished, or kicked and not yet taken).

        For the broker, which moves them to the next dispatcher or submitter and then stops
        this one; the admission's places and waiters move with them (``Admission.adopt``).
        """
        self._surrendered = True
        tasks = {**self.copies, **self._unfinished}  # the copies: the gone dispatcher's own
        for message in self._mailbox:
            if type(message) is TaskMsg:
                tasks.setdefault(message.task_id, message)
            elif type(message) is _Adopt:
                tasks.update((task.task_id, task) for task in message.tasks)
        self._mailbox = type(self._mailbox)(
            m for m in self._mailbox if type(m) is not TaskMsg and type(m) is not _Adopt
        )
        self._unfinished = {}
        self._outgoing, self._again = [], []
        self.on_disk.clear()
        self.copies = {}
        return list(tasks.values())

    def take_handoff(self) -> Handoff | None:
        """The records a stopped dispatcher handed this standby (with ``surrender``)."""
        handoff, self.handoff = self.handoff, None
        return handoff

    def poll_io(self) -> bool:
        if self._channel is None:
            return False
        batch = self._channel.recv_batch()
        if batch and self._loop is not None:
            self._liveness.heard(self.address, self._loop.time())
        for _, message in decoded(
            batch, routed=False, on_error=bad_frame_logger(log, self.address)
        ):
            self._handle(message)
        return bool(batch) and self._channel is not None and self._channel.readable()

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
            case Copy() | Drop() | Handoff():
                self._standby(message)
            case Taken(task_ids=task_ids):
                self.on_disk.update(t for t in task_ids if t in self._unfinished)
            case Leaving():
                self._leaving()
            case Farewell():  # the dispatcher's last word before its process ends
                self._orphan("left (its process stopped)")
            case Refuse(reason=reason):
                raise RemoteProtocolError(f"dispatcher {self.address} refused us: {reason}")
            case Cancelled():
                self._cancel_answered(message)
            case Heartbeat():
                pass
            case _:
                log.warning("unexpected %s from %s", type(message).__name__, self.address)

    def _cancel_answered(self, message: Cancelled) -> None:
        waiter = self._cancels.pop(message.ref, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(message.outcomes)

    def _standby(self, message: Copy | Drop | Handoff) -> None:
        """As the dispatcher's standby: hold (``Copy``, acknowledged) or forget (``Drop``).

        A ``Handoff`` is kept for the next dispatcher.
        """
        if type(message) is Handoff:
            self.handoff = message
            return
        if type(message) is Drop:
            for task_id in message.task_ids:
                self.copies.pop(task_id, None)
            return
        assert type(message) is Copy
        if message.fresh:
            self.copies.clear()
        self.copies.update((task.task_id, task) for task in message.tasks)
        if message.seq:  # 0: the first part of a split Copy (acknowledged with its last)
            self._copied = max(self._copied or 0, message.seq)

    def _forwarded(self, message: Forward) -> None:
        for task_id in [r.task_id for r in message.results] + message.expired:
            self._unfinished.pop(task_id, None)  # expired: ran, and its result is gone
            self.on_disk.discard(task_id)
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
            self._again = list(self._unfinished.values())
            self._outgoing = []
            self.on_disk.clear()  # that one's disk may not be this one's
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
        drained = self._drained
        if (
            drained is not None
            and len(self.on_disk) == len(self._unfinished)
            and not drained.done()
        ):
            drained.set_result(None)  # every task has its result, or is on the dispatcher's disk
        if self._channel is None or self._surrendered:  # orphaned: they wait for the next one
            return
        if self._copied is not None:
            self._send(Copied(self._copied))
            self._copied = None
        if self.leaving:  # new tasks wait for the next dispatcher (``_leaving``)
            return
        if self._again:
            self._send(Resubmit(self._again))
            self._again = []
        if self._outgoing:
            self._send(Submit(self._outgoing))
            self._outgoing = []
        if self._channel.backlog:
            self._channel.flush()

    def _hello(self) -> None:
        hello = Hello(
            ROLE_PRODUCER, PROTOCOL_VERSION, self.session, os.getpid(), socket.gethostname()
        )
        self._send(hello, queue=False)

    def _send(self, message: Message, *, queue: bool = True) -> None:
        if self._channel is None:  # orphaned: nobody to tell
            return
        assert self._loop is not None
        if self._channel.send_message(message, self.config.max_msg_size, queue=queue):
            self._liveness.sent(self.address, self._loop.time())
