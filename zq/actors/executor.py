"""Executor: the worker side. One DEALER per dispatcher address, credit, and a pool of slots.

Credit: the ``max_async_tasks + max_prefetch`` slots are shared evenly among the dispatchers
(links) and granted at hello (``zq.core.credit``); a finished task hands one back with its
result. The pool is ``max_async_tasks`` slot coroutines taking tasks from one ready queue: at
most that many run at once, the rest wait here (prefetched).

Graceful stop (``drain``): a ``Bye`` hands the unstarted tasks back at once, running tasks
finish (up to a timeout), their results go out, then the sockets close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import zmq

from zq.actors.base import Actor, within
from zq.actors.links import UNANSWERED_WARN_S, FirstLinkPort, Link, LinkPort
from zq.actors.ports import TaskPort, TaskRunner
from zq.actors.results import ResultStore
from zq.actors.slots import SlotPool
from zq.core.credit import CreditBook
from zq.core.framing import decoded
from zq.core.limits import result_limit, too_large
from zq.core.liveness import Liveness
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_EXECUTOR,
    Ack,
    Assign,
    Busy,
    Bye,
    Cancel,
    Cancelled,
    Farewell,
    Forward,
    Heartbeat,
    Hello,
    Items,
    Message,
    Progress,
    Read,
    Refuse,
    Rejoin,
    ResultMsg,
    Results,
    Submit,
    Taken,
    TaskMsg,
    Welcome,
)
from zq.exceptions import PeerRefusedError
from zq.transport import sockets
from zq.transport.channel import bad_frame_logger
from zq.transport.curve import check_libzmq

log = logging.getLogger("zq.executor")


_TICK = object()  # the executor's own periodic message (heartbeats, hellos, resends)


@dataclass(slots=True, frozen=True)
class _Side:
    """Something a running task sends its dispatcher: a kick, an item, progress, an ack."""

    link: Link
    kind: str
    value: Any


@dataclass(slots=True, frozen=True)
class _Drain:
    cancel: bool = False  # also cancel the running tasks and hand them back


class Executor(Actor):
    """Takes tasks from dispatchers within its credit and runs them through a ``TaskRunner``."""

    link_class: type[Link] = Link  # a test's in-memory link goes here

    def __init__(
        self,
        receiver: TaskRunner,
        addresses: list[str],
        *,
        max_async_tasks: int = 100,
        max_prefetch: int = 0,
        queues: list[str] | None = None,
        heartbeat_s: float = 1.0,
        liveness_timeout_s: float = 5.0,
        config: sockets.SocketConfig | None = None,
        results: ResultStore | None = None,
        max_tasks: int | None = None,
        on_spent: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("executor")
        if max_async_tasks < 1 or max_prefetch < 0:
            raise ValueError("max_async_tasks must be >= 1 and max_prefetch >= 0")
        if not addresses:
            raise ValueError("an executor needs at least one dispatcher address")
        if max_async_tasks + max_prefetch < len(addresses):  # (zq worker says it first)
            raise ValueError("each dispatcher address needs one of the slots it shares")
        self.receiver = receiver
        self.addresses = addresses
        self.max_async_tasks = max_async_tasks
        self.capacity = max_async_tasks + max_prefetch
        self.credit = CreditBook(self.capacity, max_tasks)  # zq.core.credit: its rules
        self.queues = queues or []
        self.heartbeat_s = heartbeat_s
        self.liveness_timeout_s = liveness_timeout_s
        # Per link (by index): heard from, sent to (zq.core.liveness); each link beats at its
        # own rhythm (Link.heartbeat_s), so the table's interval is only the default.
        self._liveness: Liveness[int] = Liveness(heartbeat_s, liveness_timeout_s)
        self.config = config or sockets.SocketConfig()
        self.result_limit = result_limit(self.config.max_msg_size)  # a result's (or item's)
        self.session = uuid.uuid4().hex
        self.results = results  # where results of tasks kicked from this worker arrive
        self.tasks_run = 0
        self.on_spent = on_spent
        # Run numbers (zq.core.executions): a random base per process, then one per task run.
        self._run_base = random.getrandbits(31) << 32 | 1
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._links: list[Link] = []
        self.pool: SlotPool[Link] = SlotPool(self._run_task, self.tell_nowait)
        # A TaskPort to the first dispatcher, usable before the executor has started.
        self.port: TaskPort = FirstLinkPort(self)
        self._drained: asyncio.Event | None = None
        self._joined: asyncio.Event | None = None
        self._cancelled = False
        self._handlers: dict[type, Callable[[Link, Any], None]] = {
            Assign: self._assigned,
            Heartbeat: lambda link, message: link.ack(message.acked),
            # the dispatcher is full: submit them again on the tick
            Busy: lambda link, message: link.deferred.extend(message.tasks),
            Cancel: lambda _link, message: self.pool.stop(message.task_ids),
            Cancelled: lambda link, message: link.cancel_answered(message),
            Read: lambda link, message: link.read(message.acks),
            Farewell: lambda link, _message: self.credit.farewell(link.account),
            Forward: self._forwarded,
            Welcome: self._welcomed,
            Rejoin: self._rejoin,
            Refuse: self._refused,
            Taken: lambda _link, _message: None,  # our tasks' kicks on its disk: nothing to do
        }

    @property
    def received(self) -> int:
        """Tasks received in all (what ``max_tasks`` counts)."""
        return self.credit.received

    # --- lifecycle ------------------------------------------------------------------------

    async def on_start(self) -> None:
        assert self._loop is not None
        check_libzmq(curve=self.config.curve is not None)
        self._ctx = zmq.Context()
        self._drained = asyncio.Event()
        self._joined = asyncio.Event()
        self.receiver.startup()
        if self.results is not None:
            self.results.streams.report = lambda acks: self.tell_or_drop(Read(acks))
        accounts = [self.credit.open() for _ in self.addresses]  # all, before shares are given
        for n, address in enumerate(self.addresses):
            link = self.link_class(n, address, self, accounts[n])
            link.heartbeat_s = self.heartbeat_s
            link.on_bad_frame = bad_frame_logger(log, address, fatal_version=True)
            self._connect(link)
            self._links.append(link)
            self._hello(link)
        self.pool.start(self._loop, self.max_async_tasks)
        self.send_after(min(0.2, self.heartbeat_s / 2), _TICK)

    async def on_stop(self) -> None:
        self.pool.cancel()
        for link in self._links:
            link.close()
        if self._ctx is not None:
            self._ctx.term()
        self.receiver.shutdown()

    async def drain(self, wait_tasks_timeout_s: float | None = None) -> bool:
        """Stop taking tasks, hand back the unstarted ones, let running ones finish, stop.

        Returns False if running tasks were still unfinished after ``wait_tasks_timeout_s``;
        those are then cancelled and handed back too.
        """
        await self.tell(_Drain())
        assert self._drained is not None
        finished = await within(self._drained, wait_tasks_timeout_s)
        if not finished:
            what = "%d task(s) still running after %ss: cancelling them and handing them back"
            log.warning(what, self.pool.running, wait_tasks_timeout_s)
            await self.cancel_running()
        await self.stop()
        return finished

    async def cancel_running(self, timeout_s: float = 2.0) -> None:
        """Cancel every running task and hand it back to its dispatcher (a forced stop).

        Waits up to ``timeout_s`` for the hand-back to be sent; the caller then stops.
        """
        await self.tell(_Drain(cancel=True))
        assert self._drained is not None
        if not await within(self._drained, timeout_s):
            log.warning("could not hand back the cancelled tasks within %ss", timeout_s)

    async def wait_joined(self, timeout_s: float) -> bool:
        """Wait until some dispatcher has welcomed us; False after ``timeout_s``."""
        assert self._joined is not None
        return await within(self._joined, timeout_s)

    async def side(self, link: Link, kind: str, value: Any) -> None:
        """A running task sends its dispatcher a kick, progress or an ack (through ``link``)."""
        await self.tell(_Side(link, kind, value))

    @property
    def default_port(self) -> LinkPort:
        """Where kicks from outside any task go: the first dispatcher."""
        return self._links[0].port

    @property
    def running(self) -> int:
        """Tasks executing right now."""
        return self.pool.running

    @property
    def prefetched(self) -> int:
        """Tasks received and waiting for a free slot."""
        return len(self.pool.ready)

    # --- the pool -------------------------------------------------------------------------

    def _run_task(self, task: TaskMsg, link: Link) -> Awaitable[ResultMsg]:
        return self.receiver.run(task, link.port)

    # --- inputs ---------------------------------------------------------------------------

    def receive(self, message: Any) -> None:
        if type(message) is tuple:  # (link, result) from a slot: the hot path
            link, result = message
            if len(result.payload) > self.result_limit:
                result = too_large(result, self.result_limit)
            result.run = self._run_base + self.tasks_run  # unique to this execution
            link.results.append(result)
            self.credit.finished(link.account)
            self.tasks_run += 1
        elif type(message) is _Side:
            self._side(message)
        elif type(message) is Read:  # readers in this process (a task reads a stream)
            for link in self._links:
                if link.joined:
                    self._send(link, message)
        elif message is _TICK:
            self._tick()
            self.send_after(min(0.2, self.heartbeat_s / 2), _TICK)
        elif type(message) is _Drain:
            self.credit.drain()
            for link in self._links:
                link.bye = True
            for link, task in self.pool.ready:
                link.returned.append(task.task_id)
                self.credit.handed_back(link.account)
            self.pool.ready.clear()
            if message.cancel:
                self._cancel_slots()
        else:
            super().receive(message)

    def _side(self, message: _Side) -> None:
        link = message.link
        if message.kind == "cancel":  # a task's broker.cancel: answered by Cancelled
            self._send(link, link.cancel(*message.value))
        else:  # out with the next batch: the link's submits, items, progress or acks
            getattr(link, message.kind).append(message.value)

    def poll_io(self) -> bool:
        more = False
        for link in self._links:
            if link.disconnected() and link.joined:
                self._renew(link, "its connection dropped")
            assert link.channel is not None
            batch = link.channel.recv_batch()
            if not batch:
                continue
            assert self._loop is not None
            self._liveness.heard(link.index, self._loop.time())
            for _, message in decoded(batch, routed=False, on_error=link.on_bad_frame):
                try:
                    self._handle(link, message)
                except PeerRefusedError:
                    raise  # the dispatcher will not have us: the worker exits with the reason
                except Exception:  # a supervision boundary: no message ends the executor
                    log.exception(
                        "handling a %s from dispatcher %s failed; it is dropped",
                        type(message).__name__,
                        link.address,
                    )
            more = more or len(batch) >= 1000 or link.channel.readable()
        return more

    def io_waiting(self) -> bool:
        for link in self._links:  # noqa: SIM110 (any() over a generator costs more, twice a task)
            if link.waiting():
                return True
        return False

    def _handle(self, link: Link, message: Message) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            log.warning("unexpected %s from %s", type(message).__name__, link.address)
        else:
            handler(link, message)

    def _assigned(self, link: Link, message: Assign) -> None:
        tasks = message.tasks
        if message.acked:
            link.ack(message.acked)
        taken, spent = self.credit.assigned(link.account, len(tasks))
        if spent and self.on_spent is not None:
            log.info("took %d task(s), the per-process limit: finishing them", self.received)
            self.on_spent()
        if not taken:  # draining: they crossed our Bye; hand them back
            link.returned.extend(t.task_id for t in tasks)
            return
        for task in tasks:
            self.pool.offer(link, task)

    def _forwarded(self, _link: Link, message: Forward) -> None:
        if self.results is not None and self.results.alive:
            self.results.forwarded(message)

    def _welcomed(self, link: Link, message: Welcome) -> None:
        link.joined = True
        # Beat as often as that dispatcher does: its liveness timeout is set for its
        # own rhythm, which may be faster than this worker's settings (the app's).
        if message.heartbeat_s > 0:
            link.heartbeat_s = min(self.heartbeat_s, message.heartbeat_s)
        link.warn_after_s = UNANSWERED_WARN_S
        if self._joined is not None:
            self._joined.set()
        if link.incarnation and link.incarnation != message.incarnation:
            log.warning("the dispatcher at %s restarted; this worker rejoined it", link.address)
        elif link.incarnation:  # the same dispatcher, a new session after a silence
            log.info("reconnected to the dispatcher at %s", link.address)
        else:  # the supervisor says it once for the host ("registered ... dispatcher(s)")
            log.debug("joined the dispatcher at %s", link.address)
        link.incarnation = message.incarnation

    def _rejoin(self, link: Link, _message: Rejoin) -> None:
        link.joined = False  # the dispatcher restarted: it counts our results from zero
        link.carried = link.restart_count(link.carried)
        self._hello(link, carry=True)

    def _refused(self, link: Link, message: Refuse) -> None:
        raise PeerRefusedError(f"dispatcher {link.address} refused us: {message.reason}")

    def _renew(self, link: Link, why: str) -> None:
        """Start a new session on ``link``: the old one may have lost messages (see links)."""
        log.warning("lost contact with the dispatcher at %s (%s); reconnecting", link.address, why)
        link.carried = link.restart_count([*link.carried, *link.close()])
        self._connect(link)
        self._hello(link, carry=True)

    def _connect(self, link: Link) -> None:
        assert self._ctx is not None and self._loop is not None
        link.connect(self._ctx, self.session, self.config, self._loop, self._wake)
        self._liveness.heard(link.index, self._loop.time())  # silence counts from the connect
        self.credit.connected(link.account)

    def _hello(self, link: Link, *, carry: bool = False) -> None:
        """A new session's Hello; the tick repeats this one (its credit too) until a Welcome.

        With ``carry``, what the session before left follows it at once: kept results reach
        the dispatcher in the batch that registers us, before it assigns anything.
        """
        credit = self.credit.hello(link.account)
        tasks = sorted(self.receiver.task_names())
        hello = Hello(
            ROLE_EXECUTOR,
            PROTOCOL_VERSION,
            self.session,
            os.getpid(),
            socket.gethostname(),
            tasks,
            self.queues,
            credit,
        )
        link.hello = hello
        self._send(link, hello, queue=carry)  # retried by the tick until welcomed
        if carry:
            for carried in link.carried:
                self._send(link, carried)
            link.carried = []

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        liveness = self._liveness
        for link in self._links:
            if link.deferred:
                link.submits.extend(link.deferred)
                link.deferred = []
            if not link.joined:  # the same Hello until a Welcome: the dispatcher may not be up
                self._send(link, link.hello, queue=False)
                link.unanswered(liveness.silent_for(link.index, now))
            elif (silent := liveness.silent_for(link.index, now)) > self.liveness_timeout_s:
                self._renew(link, f"silent for {silent:.1f}s")
            elif liveness.quiet_for(link.index, now) >= link.heartbeat_s:  # this link's rhythm
                self._send(link, Heartbeat())
            if link.streams:
                link.resend_streams(now)

    def after_batch(self) -> None:
        if self.pool.forked:  # a forked copy of this process must send nothing (zq.worker)
            os._exit(0)
        for link in self._links:
            # Kicks, progress and acks go before results: a retry kicked by a failing task
            # must reach the dispatcher before that task's result does.
            if link.submits:
                self._send(link, Submit(link.submits))
                link.submits = []
            if link.progress:
                self._send(link, Progress(link.progress))
                link.progress = []
            if link.items:
                self._send(link, Items(link.items))
                link.items = []
            if link.acks:
                self._send(link, Ack(link.acks))
                link.acks = []
            if link.returned or link.cancelled or link.bye:
                # Not queued while disconnected: a gone dispatcher requeues on its own.
                self._send(link, Bye(link.returned, link.cancelled), queue=False)
                link.returned, link.cancelled, link.bye = [], [], False
            if link.results or self.credit.credit_due(link.account, link.joined):
                # Credit only to a session the dispatcher knows: it drops an unknown one's.
                credit = self.credit.results(link.account, link.joined)
                self._send(link, Results(link.results, credit))
                link.results = []
            assert link.channel is not None
            if link.channel.backlog:
                link.channel.flush()
        if (
            self.credit.draining
            and self._drained is not None
            and (self._cancelled or not self.pool.running)
            and not self.pool.ready
            # Results wait for a dispatcher we are joined to; not for one that is gone.
            and not any(link.results or (link.joined and link.backlog) for link in self._links)
            and self._farewelled()
        ):
            self._drained.set()

    def _farewelled(self) -> bool:
        """Whether every dispatcher we are joined to answered our last Bye.

        Until then an ``Assign`` may be crossing our ``Bye`` (it is handed back when it comes),
        and what we sent may still be in a pipe that closing the socket would drop. A
        dispatcher that is gone is not waited for: it requeues on its own.
        """
        done = True
        for link in self._links:
            if not link.joined:
                continue
            if not link.account.said_bye_last:
                self._send(link, Bye(), queue=False)
            done = done and self.credit.closable(link.account)
        return done

    def _cancel_slots(self) -> None:
        for link, task in self.pool.cancel():
            link.cancelled.append(task.task_id)
            self.credit.handed_back(link.account)
        self._cancelled = True  # their slots wind down on their own; nothing to wait for

    def _send(self, link: Link, message: Message, *, queue: bool = True) -> None:
        assert self._loop is not None
        assert link.channel is not None
        try:
            sent = link.channel.send_message(message, self.config.max_msg_size, queue=queue)
        except zmq.ZMQError as exc:
            log.debug("send to %s failed: %s", link.address, exc)
            return
        if sent:
            self._liveness.sent(link.index, self._loop.time())
            if type(message) is Results:  # kept until acknowledged (zq.core.executions)
                link.unacked.extend(message.results)
            if type(message) is not Heartbeat:
                self.credit.sent(link.account, bye=type(message) is Bye)
