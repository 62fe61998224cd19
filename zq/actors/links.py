"""An executor's connection to one dispatcher: its socket, its session, and what it owes.

A link is a *session*: its routing id is ``<executor session>.<link index>.<epoch>``. When the
connection may have dropped messages (the socket reports a disconnect, or the dispatcher has
been silent past the liveness timeout), the link does not carry on under the same id, since an
``Assign`` or a ``Results`` lost in the dead pipe would leave leases nobody holds. It *renews*:
a new socket with the next epoch, a new ``Hello``. The dispatcher sees the old session go
unroutable or silent and requeues its leases; results still unsent are carried over (without
their credit, which the new ``Hello`` already counts), and late results of old leases are
accepted or dropped as duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import zmq
from zmq.utils.monitor import parse_monitor_message

from zq.actors.streams import StreamWriter
from zq.core import codec
from zq.core.credit import Account
from zq.core.messages import (
    Ack,
    Cancel,
    Cancelled,
    CancelOutcome,
    Heartbeat,
    Items,
    Message,
    Progress,
    ResultMsg,
    Results,
    Submit,
    TaskMsg,
)
from zq.exceptions import RemoteProtocolError
from zq.transport import sockets
from zq.transport.channel import Channel
from zq.transport.curve import HANDSHAKE_EVENTS, handshake_problem

if TYPE_CHECKING:
    from zq.actors.executor import Executor

log = logging.getLogger("zq.executor")


class Link:
    """One dispatcher connection and its bookkeeping."""

    def __init__(self, index: int, address: str, executor: Executor, account: Account) -> None:
        self.index = index
        self.account = account  # this link's credit and Byes (zq.core.credit)
        self.address = address
        self.port = LinkPort(executor, self)
        self.epoch = -1
        self.routing_id = b""
        self.channel: Channel | None = None
        self._monitor: Channel | None = None
        self.submits: list[TaskMsg] = []  # kicked by tasks: sent before the next Results
        self.deferred: list[TaskMsg] = []  # handed back by a full dispatcher: sent on the tick
        self.progress: list[tuple[str, bytes]] = []
        self.items: list[tuple[str, int, bytes]] = []  # streamed by generator tasks
        self.streams: dict[str, StreamWriter] = {}  # of tasks this dispatcher leased
        self.acks: list[str] = []
        self.joined = False
        self.refused = False  # a handshake failure was logged for this session
        self.results: list[ResultMsg] = []
        self.returned: list[str] = []  # tasks to hand back with the next Bye
        self.cancelled: list[str] = []  # started, then cancelled by a forced stop
        self.bye = False  # say Bye on the next batch (we are draining)
        self.incarnation = ""
        self.carried: list[Message] = []  # from a dropped session: sent right after the Hello
        self.hello: Message = Heartbeat()  # this session's Hello, repeated until a Welcome
        self.curve = False  # whether the session uses CURVE (for what its failures mean)
        self.heartbeat_s = 1.0  # beat after this much silence (the faster of ours and its)
        # what a frame that does not decode does (log it, or refuse another protocol version)
        self.on_bad_frame: Callable[[bytes, RemoteProtocolError], None] = lambda _p, _e: None
        # Results sent on this session and not yet acknowledged (see zq.core.executions): kept to
        # send again if the session ends before the dispatcher says it has them.
        self.unacked: deque[ResultMsg] = deque()
        self.acked = 0  # results of this session the dispatcher acknowledged
        self.warn_after_s = UNANSWERED_WARN_S  # unanswered hellos are logged after this
        self._ref = 0  # of the last Cancel a task sent through this link
        self.cancels: dict[int, asyncio.Future[list[CancelOutcome]]] = {}  # awaiting Cancelled

    def cancel(self, task_ids: list[str], answer: asyncio.Future[list[CancelOutcome]]) -> Cancel:
        """The ``Cancel`` to send for a task's ``broker.cancel``; ``answer`` gets the outcomes."""
        self._ref += 1
        self.cancels[self._ref] = answer
        return Cancel(task_ids, self._ref)

    def cancel_answered(self, message: Cancelled) -> None:
        """The dispatcher's ``Cancelled``: its outcomes go to the task that asked."""
        answer = self.cancels.pop(message.ref, None)
        if answer is not None and not answer.done():
            answer.set_result(message.outcomes)

    @property
    def backlog(self) -> int:
        """Messages waiting for room (or a connection) to be sent."""
        return self.channel.backlog if self.channel is not None else 0

    def connect(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        session: str,
        config: sockets.SocketConfig,
        loop: asyncio.AbstractEventLoop,
        wake: Callable[[], None],
    ) -> None:
        """Open a new session: a DEALER with the next epoch's routing id, and its monitor."""
        self.epoch += 1
        self.curve = config.curve is not None
        self.routing_id = f"{session}.{self.index}.{self.epoch}".encode()
        sock, monitor = self._open(ctx, config)
        self.channel = Channel(sock, wake)
        self.channel.attach(loop)
        self._monitor = Channel(monitor, wake)
        self._monitor.attach(loop)
        self.joined = False
        self.refused = False

    def _open(
        self, ctx: zmq.Context[zmq.Socket[bytes]], config: sockets.SocketConfig
    ) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
        """The session's DEALER and its monitor (tests put in-memory sockets here)."""
        sock = sockets.dealer(ctx, self.address, self.routing_id, config)
        return sock, sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | HANDSHAKE_EVENTS)

    def waiting(self) -> bool:
        """Whether a message or a monitor event is waiting (re-arms both descriptors)."""
        monitor = self._monitor is not None and self._monitor.readable()
        return monitor or (self.channel is not None and self.channel.readable())

    def disconnected(self) -> bool:
        """Whether the socket reported a dropped connection since the last call.

        A failed handshake (a refused key, a wrong server key) is logged, once per session:
        the socket keeps retrying, and the operator needs to know why nothing arrives.
        """
        if self._monitor is None or not self._monitor.readable():  # no exception per wake-up
            return False
        dropped = False
        for frames in self._monitor.recv_batch():
            event = parse_monitor_message(frames)
            dropped = dropped or event["event"] == zmq.EVENT_DISCONNECTED
            problem = handshake_problem(int(event["event"]), int(event["value"]), curve=self.curve)
            if problem is not None and not self.refused:
                self.refused = True
                level = logging.ERROR if self.curve else logging.WARNING  # a key can be wrong
                log.log(level, "dispatcher %s: %s", self.address, problem)
        return dropped

    def close(self) -> list[Message]:
        """Close the session's sockets; returns what must still be sent.

        That is what was waiting in the outbox: results (without their credit), kicks,
        progress and acks.
        """
        carried: list[Message] = []
        channel, monitor = self.channel, self._monitor
        self.channel = self._monitor = None
        if channel is None:
            return carried
        for frames in channel.pending():
            try:
                message = codec.decode(frames[0], frames[1])
            except RemoteProtocolError:
                continue
            if isinstance(message, Results):
                if message.results:
                    carried.append(Results(message.results, 0))
            elif isinstance(message, Submit | Progress | Ack):
                carried.append(message)
        channel.sock.disable_monitor()
        if monitor is not None:
            monitor.close()
        channel.close()
        return carried

    def ack(self, count: int) -> None:
        """The dispatcher has received ``count`` results of this session: forget those."""
        drop = min(count - self.acked, len(self.unacked))
        unacked = self.unacked
        for _ in range(drop):
            unacked.popleft()
        self.acked = max(self.acked, count)

    def restart_count(self, outbox: list[Message]) -> list[Message]:
        """A new session (or a restarted dispatcher) counts results from zero.

        Returns what to send once welcomed: the unsent ``outbox`` (its results were never
        received), then the unacknowledged results it does not hold, marked resent.
        """
        unsent = {(r.task_id, r.run) for m in outbox if isinstance(m, Results) for r in m.results}
        maybe = [r for r in self.unacked if (r.task_id, r.run) not in unsent]
        self.unacked.clear()
        self.acked = 0
        if maybe:
            outbox = [*outbox, Results(maybe, 0, resent=True)]
        return self._streams_again(outbox)

    def _streams_again(self, outbox: list[Message]) -> list[Message]:
        """Items the readers have not acknowledged may have been in the dropped pipe.

        They are sent again (the readers drop what they have): items that were waiting in the
        old socket are not carried (see ``close``), so they are sent once, in order.
        """
        again = [
            (task_id, seq, payload)
            for task_id, stream in self.streams.items()
            for seq, payload in stream.window.resend()
        ]
        return [*outbox, Items(again)] if again else outbox

    def unanswered(self, waited: float) -> None:
        """No Welcome for ``waited`` seconds: said at doubling intervals (up to 5 minutes)."""
        if waited >= self.warn_after_s:
            self.warn_after_s = min(2 * self.warn_after_s, 300.0)
            log.warning(
                "no zq dispatcher answers at %s after %.0fs: is the app running and bound to "
                "that address? Still trying",
                self.address,
                waited,
            )

    def read(self, acks: list[tuple[str, int]]) -> None:
        """The readers' positions (``Read``): room in their streams' windows."""
        for task_id, upto in acks:
            stream = self.streams.get(task_id)
            if stream is not None:
                stream.acked(upto)

    def resend_streams(self, now: float) -> None:
        """Send again the items of streams whose reader has been quiet too long (the tick)."""
        for task_id, stream in self.streams.items():
            self.items.extend((task_id, seq, payload) for seq, payload in stream.due_again(now))

    def open_stream(self, executor: Executor, task_id: str, window: int) -> StreamWriter:
        """The writer of a generator task's items, sent through this link."""

        async def send(task_id: str, seq: int, payload: bytes) -> None:
            await executor.side(self, "items", (task_id, seq, payload))

        limit = executor.result_limit
        stream = StreamWriter(
            task_id, window, send, lambda s: self.streams.pop(s.task_id, None), limit
        )
        self.streams[task_id] = stream
        return stream


UNANSWERED_WARN_S = 5.0  # first "nobody answers" warning; then at doubling intervals


class LinkPort:
    """The ``TaskPort`` of one link: what tasks leased by that dispatcher send back to it."""

    __slots__ = ("executor", "link")

    def __init__(self, executor: Executor, link: Link) -> None:
        self.executor = executor
        self.link = link

    async def submit(self, task: TaskMsg) -> None:
        await self.executor.side(self.link, "submits", task)

    async def progress(self, task_id: str, payload: bytes) -> None:
        await self.executor.side(self.link, "progress", (task_id, payload))

    async def ack(self, task_id: str) -> None:
        await self.executor.side(self.link, "acks", task_id)

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        answer: asyncio.Future[list[CancelOutcome]] = asyncio.get_running_loop().create_future()
        await self.executor.side(self.link, "cancel", (task_ids, answer))
        return await answer

    def open_stream(self, task_id: str, window: int) -> StreamWriter:
        return self.link.open_stream(self.executor, task_id, window)


class FirstLinkPort:
    """The executor's ``TaskPort`` for kicks made outside any task: its first dispatcher.

    It looks the link up at each call, so it may be handed out before the links exist (a
    worker's startup handlers kick once the executor runs).
    """

    __slots__ = ("executor",)

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def submit(self, task: TaskMsg) -> None:
        await self.executor.default_port.submit(task)

    async def progress(self, task_id: str, payload: bytes) -> None:
        await self.executor.default_port.progress(task_id, payload)

    async def ack(self, task_id: str) -> None:
        await self.executor.default_port.ack(task_id)

    async def cancel(self, task_ids: list[str]) -> list[CancelOutcome]:
        return await self.executor.default_port.cancel(task_ids)

    def open_stream(self, task_id: str, window: int) -> StreamWriter:
        return self.executor.default_port.open_stream(task_id, window)
