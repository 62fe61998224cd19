"""Dispatcher: binds the ROUTER, feeds the ledger, performs the effects it returns.

All decisions are the ledger's (``zq.core.ledger``) and the liveness table's
(``zq.core.liveness``); this actor decodes frames, turns them into ledger events, and sends
what the ledger decided, one batch per peer per wake-up.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq

from zq.actors.admission import Admission
from zq.actors.base import Actor
from zq.actors.control import QUERIES, Control
from zq.actors.delays import TIMED, Delays, Release
from zq.actors.dispatcher_api import (
    Conditions,
    Depart,
    DispatcherStats,
    Drain,
    GetStats,
    PeerInfo,
    WaitUntil,
    departed,
    snapshot,
)
from zq.actors.dispatcher_local import LocalProducer
from zq.actors.gate import Gate
from zq.actors.inspection import Inspect, Inspection
from zq.actors.outcomes import Outcomes, ResultAcks
from zq.actors.producers import Producers
from zq.actors.records import Records
from zq.actors.results import FetchResults, ResultStore
from zq.actors.routing import Routing
from zq.actors.standby import Standby
from zq.core.access import Unknown, unknown_session
from zq.core.dependencies import HELD
from zq.core.dependencies import LABEL as DEPENDS
from zq.core.framing import decoded
from zq.core.ledger import Ledger
from zq.core.liveness import Liveness
from zq.core.messages import (
    ROLE_EXECUTOR,
    Ack,
    Assign,
    Bye,
    Cancel,
    Copied,
    Credit,
    Farewell,
    Fetch,
    Handoff,
    Heartbeat,
    Hello,
    Items,
    Message,
    Progress,
    Query,
    Read,
    Rejoin,
    Resubmit,
    ResultMsg,
    Results,
    Submit,
    TaskMsg,
    Welcome,
)
from zq.core.verdicts import Lost
from zq.core.workflow import GROUP_THEN, WF
from zq.exceptions import RemoteProtocolError
from zq.storage.journal import Journal
from zq.transport.channel import Channel
from zq.transport.curve import AllowList
from zq.transport.sockets import SocketConfig

log = logging.getLogger("zq.dispatcher")

DRAIN_LINGER_MS = 500  # a graceful stop: how long the last Forward and Farewell may take


@dataclass(slots=True, frozen=True)
class _Tick:
    """Timer message: check liveness and send heartbeats."""


class Dispatcher(LocalProducer, Actor):
    """The producer side of zq: one per address, embedded in the process that binds it."""

    def __init__(
        self,
        address: str,
        results: ResultStore,
        *,
        heartbeat_s: float = 1.0,
        liveness_timeout_s: float = 5.0,
        delivery_limit: int = 5,
        config: SocketConfig | None = None,
        allow: AllowList | None = None,
        max_pending: int = 100_000,
        journal: Journal | None = None,
        result_ttl_s: float = 3600.0,
        max_connections: int | None = None,
        history: int = 10_000,
    ) -> None:
        super().__init__("dispatcher")
        self.records = Records(journal, result_ttl_s)
        self.journal = journal  # checked on the hot path before calling into records
        self.dead_letters = self.records.dead_letters
        self.admission = Admission(max_pending, self._held)
        self.address = address
        self.endpoint = address  # the endpoint actually bound, once started
        self.heartbeat_s = heartbeat_s
        self.liveness_timeout_s = liveness_timeout_s
        self.delivery_limit = delivery_limit
        self.config = config or SocketConfig()  # with CURVE: ``allow`` says who may connect
        self.incarnation = uuid.uuid4().hex
        self.stats = DispatcherStats()
        self._gate = Gate(
            self.stats, self._send, allow, self.config.handshake_timeout_s, max_connections
        )
        self.peers: dict[bytes, PeerInfo] = {}
        self._results = results
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._channel: Channel | None = None
        self._ledger = Ledger(delivery_limit)
        self._liveness: Liveness[bytes] = Liveness(heartbeat_s, liveness_timeout_s)
        self._routing = routing = Routing(results)
        ledger = self._ledger
        # One handler per message type a peer may send (the gate checked the role already).
        self._handlers: dict[type, Callable[[bytes, Any], None]] = {
            Results: self._results_from,
            Submit: lambda peer, message: self._producers.submitted(peer, message, self._submit),
            Resubmit: lambda peer, msg: self._producers.submitted(peer, msg, self._submit),
            Ack: self._acked,
            Progress: lambda _peer, msg: routing.progressed(msg.items, ledger.origin_of),
            Items: lambda peer, msg: routing.items(peer, msg.items, ledger.route_of),
            Read: lambda _peer, msg: routing.read(msg.acks, ledger.route_of, self._send),
            Fetch: lambda peer, message: self._fetch(peer, message.task_ids),
            Credit: self._credited,
            Heartbeat: lambda _peer, _message: None,  # any message is a sign of life
            Hello: self._hello,
            Copied: lambda peer, message: self.standby.acknowledged(peer, message.seq),
            Handoff: lambda _peer, message: self.receive(message),
            Bye: self._left,
            Cancel: self._cancel,
        }

        def only_here(origin: bytes | None) -> bool:  # a joined producer keeps its own tasks
            return origin is None or self._ledger.knows(origin)

        self.standby = Standby(self._send, lambda: self._ledger.held_by(only_here))
        self._producers = Producers(
            self.incarnation,
            self.admission,
            self._ledger,
            self.stats,
            self._send,
            lambda task_id: results.peek(task_id) is not None,
            self._fetch,
            self.standby,
            durable=journal is not None,
        )
        self._outcomes = Outcomes(
            self._ledger, self.stats, self.records, self._routing, results, self.standby
        )
        self._control = Control(self, self._outcomes, results, self._submit)
        self._outcomes.submit = self._submit  # a pipeline's next step
        self._outcomes.wake = functools.partial(setattr, self, "_dirty", True)  # (released)
        self._inspect = Inspection(self, self._outcomes, history)  # observers; task history
        self._handlers[Query] = self._inspect.query
        self._acks = ResultAcks(durable=journal is not None)
        self._dirty = False
        self._until = Conditions()
        self._delays = Delays(self._ledger, self.send_after, self._now)
        self.unfinished: list[str] = []  # once stopped: the ids of tasks it held
        self.clock = 0.0  # the loop's time at the start of the batch being handled

    # --- lifecycle ------------------------------------------------------------------------

    async def on_start(self) -> None:
        assert self._loop is not None
        self._channel = Channel(self._bind(), self._wake)
        self._channel.attach(self._loop)
        self._inspect.start()
        self.clock = self._now()
        self._recover()
        self.admission.held = self._held()
        self.send_after(self.heartbeat_s / 2, _Tick())
        log.debug("dispatcher bound %s", self.endpoint)

    def _bind(self) -> zmq.Socket[bytes]:
        """The bound ROUTER, behind its gate (tests put an in-memory socket here)."""
        assert self._loop is not None
        self._ctx = zmq.Context()
        sock, self.endpoint = self._gate.bind(self._ctx, self._loop, self.address, self.config)
        return sock

    def _recover(self) -> None:
        """Queue again what the journal held: the tasks a previous run had not finished."""
        resubmit = functools.partial(self._submit, journaled=True)

        def put(results: list[ResultMsg]) -> None:  # (and the groups of workflows, anew)
            self._results.put(results)
            self._outcomes.restored(results)

        recover = self.records.recover
        self.stats.recovered, dead = recover(resubmit, put, self._inspect.restore)
        self.stats.dead_lettered += dead

    async def on_stop(self) -> None:
        queued = [m.task_id for m in self._mailbox if type(m) is TaskMsg]  # kiq()s not yet taken
        self.unfinished = self._ledger.held_ids() + queued
        self.records.report_unfinished(self.unfinished, self.standby.peer)
        if self.crash is None and not self._producers.departed:  # stopped without a drain
            self._producers.farewell(self.peers, self.records.handoff())
        self.records.close(crashed=self.crash is not None)
        if self._channel is not None:
            self._channel.close(linger_ms=0 if self.crash else DRAIN_LINGER_MS)  # last words
        self._gate.close()
        if self._ctx is not None:
            self._ctx.term()
        self._until.cancel()

    # --- inputs ---------------------------------------------------------------------------

    def receive(self, message: Any) -> None:
        if type(message) is TaskMsg:  # a kiq() in this process: the hot path
            self.admission.incoming -= 1  # its place moves into our count (Admission.arrived)
            self._submit(message, None)
        elif type(message) is _Tick:
            self._tick()
            self.send_after(self.heartbeat_s / 2, _Tick())
        elif type(message) is Release:
            self._dirty = self._delays.fired() or self._dirty
        elif type(message) is FetchResults:
            self._fetch(None, message.task_ids)
        elif type(message) is Read:  # this process's reader of streams (zq.core.streams)
            self._handlers[Read](b"", message)
        elif type(message) is list:  # adopt(): tasks of this process a submitter held
            for task in message:
                self._submit(task, None)
        elif type(message) is Handoff:  # from the dispatcher before this one (via its standby)
            self.stats.dead_lettered += self.records.take_handoff(message, self._now())
        else:
            super().receive(message)

    def answer(self, message: Any) -> Any:
        loop = self._loop
        assert loop is not None
        if type(message) is WaitUntil:
            return self._until.ask(message.predicate, self._snapshot(), loop)
        if type(message) is Drain:  # the graceful stop begins
            return self._producers.drain(self.peers)
        if type(message) is Depart:  # and ends: answered once the producers said bye
            self._producers.farewell(self.peers, self.records.handoff())
            return self._until.ask(departed, self._snapshot(), loop)
        if type(message) is GetStats:
            return self._snapshot()
        if type(message) is Inspect:  # status, task history (broker.task_info...)
            return self._inspect.ask(message)
        if type(message) in QUERIES:  # dead letters, cancels, explain
            self._dirty = True  # a cancel frees places, a replay queues tasks: dispatch after
            return self._control.answer(message)
        return super().answer(message)

    def _snapshot(self) -> dict[str, Any]:
        return {**snapshot(self._ledger, self.peers, self.stats), "standby": self.standby.peer}

    def poll_io(self) -> bool:
        channel = self._channel
        assert channel is not None
        if not channel.quiet:  # connection events first, before anything is read (gate.poll)
            self._gate.poll()
        now, heard = self._now(), self._liveness.heard
        self.clock = now  # this batch's time: what kicks and results are stamped with
        # With CURVE, or while a connection has not said hello yet, the gate checks each
        # message (its sender key's role; a Hello marks a connection as a zq peer's).
        if self._gate.curve or self._gate.unspoken:
            for peer, message in self._gate.admitted(channel):
                heard(peer, now)
                self._handle(peer, message)
            return channel.readable()
        batch = channel.recv_batch()
        for peer, message in decoded(batch, routed=True, on_error=self._gate.protocol_error):
            heard(peer, now)
            self._handle(peer, message)
        return len(batch) >= 1000 or (bool(batch) and channel.readable())

    def io_waiting(self) -> bool:
        return self._channel is not None and self._channel.readable()

    def _handle(self, peer: bytes, message: Message) -> None:
        try:
            self._handle_message(peer, message)
        except RemoteProtocolError as exc:  # e.g. negative credit: the peer's fault, not ours
            self._gate.protocol_error(peer, exc)
        except Exception as exc:  # a supervision boundary: no peer's message ends the actor
            self._gate.handler_failed(peer, message, exc)

    def _handle_message(self, peer: bytes, message: Message) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            raise RemoteProtocolError(f"unexpected {type(message).__name__}")
        # Known: registered (welcomed), or still holding leases (a draining executor, which
        # said its first Bye and finishes what it runs).
        if peer not in self.peers and not self._ledger.knows(peer):
            rule = unknown_session(message)
            if rule is not Unknown.HANDLE:
                self._send(peer, Rejoin(self.incarnation))
                if rule is Unknown.REJOIN_ONLY:
                    return
        handler(peer, message)

    def _acked(self, peer: bytes, message: Ack) -> None:
        self.stats.acked += sum(self._ledger.ack(peer, task_id) for task_id in message.task_ids)

    def _credited(self, peer: bytes, message: Credit) -> None:
        self._ledger.grant(peer, message.amount)
        self._dirty = True

    def _left(self, peer: bytes, message: Bye) -> None:
        self._send(peer, Farewell())
        if peer not in self.peers or self.peers[peer].role != ROLE_EXECUTOR:
            self._producers.gone(peer)
        left = self._ledger.leave(peer, message.returned, message.cancelled)
        self.stats.requeued += len(left.requeued)
        self._control.ended(left)
        self.peers.pop(peer, None)
        self._acks.gone(peer)
        self._dirty = True

    def _results_from(self, peer: bytes, message: Results) -> None:
        results = message.results
        self._acks.received(peer, len(results))
        ledger = self._ledger
        known = ledger.knows(peer)
        if (info := self.peers.get(peer)) is not None:
            info.ran += len(results)
        complete, now, retried = self._outcomes.complete, self.clock, False
        if message.resent:  # kept through a silence: a success ends its task (see resent)
            for result in results:
                if self._outcomes.resent(result):
                    complete(peer, result, now)
        else:
            for result in results:
                retried = complete(peer, result, now) or retried
            if retried:  # a retry's successor waits: dispatch it (or arm its delay)
                self._dirty = True
                self._delays.arm()
        if known and message.credit:  # else it rejoins (unknown_session) and is granted anew
            ledger.grant(peer, message.credit)
            self._dirty = True

    def _hello(self, peer: bytes, hello: Hello) -> None:
        if not self._gate.admits(peer, hello):
            return
        if hello.role == ROLE_EXECUTOR:
            try:
                fresh = self._ledger.join(peer, hello.tasks, hello.queues, hello.credit)
            except RemoteProtocolError as exc:
                self._gate.protocol_error(peer, exc)
                return
            if not fresh:  # a retried hello: just welcome it again
                self._send(peer, Welcome(self.incarnation, self.heartbeat_s))
                return
            self._acks.hello(peer)
            self._dirty = True
        self._inspect.joined(peer, hello)
        again = peer in self.peers  # a producer's retried hello: welcomed again, logged once
        self.peers[peer] = PeerInfo(
            hello.role, hello.pid, hello.hostname, hello.tasks, hello.queues, hello.credit
        )
        self._send(peer, Welcome(self.incarnation, self.heartbeat_s))
        self._producers.welcomed(peer, hello.role, first=not again)
        if not again:
            who = (hello.role, peer.hex()[:12], hello.pid, hello.hostname)
            log.info("%s %s joined (pid %d on %s)", *who)

    # --- ledger events and their effects --------------------------------------------------

    def _submit(self, task: TaskMsg, origin: bytes | None, journaled: bool = False) -> None:
        labels = task.labels
        due = self._delays.due(task) if labels and not TIMED.isdisjoint(labels) else None
        if DEPENDS in labels:  # it waits for others, runs, or failed at once (delivered)
            verdict = self._outcomes.depends(task, origin)
            if verdict.reason is not None:
                return
            due = HELD if verdict.hold else due
        ledger = self._ledger
        if "schedule_id" in labels and self.records.repeated_run(task, ledger, self._now()):
            self.stats.repeated_kicks += 1  # the same slot, from a second scheduler: dropped
        elif "unique_for" in labels and self._control.kept(task):
            pass  # finished within its unique_for: the kick gets that result (as below)
        elif ledger.submit(task, origin, due, self.clock):
            self.stats.submitted += 1
            if WF in labels or GROUP_THEN in labels:  # a workflow's step or a group's child:
                self._outcomes.workflows.started(task, origin)  # its handles can be waited for
            if self.standby.peer is not None and (origin is None or ledger.knows(origin)):
                self.standby.accepted(task)  # only this process holds it: copy it
            if self.journal is not None and not journaled:
                self.records.accepted(task, origin)
            if due is None:
                self._dirty = True
            else:
                self._delays.arm()
            return
        if origin is not None and not ledger.knows(origin):  # a producer's second kick of it:
            self._fetch(origin, [task.task_id])  # it gets the one result too (it waits for it)

    def _cancel(self, peer: bytes, message: Cancel) -> None:
        self._control.cancel_for(peer, message)
        self._dirty = True  # a held place freed: kiq()s waiting for room may go on

    def _held(self) -> int:
        """Tasks waiting here (pending or delayed): what ``max_pending`` bounds."""
        return self._ledger.pending_count + self._ledger.delayed_count

    def _fetch(self, peer: bytes | None, task_ids: list[str]) -> None:
        self._routing.fetch(peer, task_ids, self._outcomes.workflows.origin_of(self._ledger))

    def _account_loss(self, lost: Lost) -> None:
        self.stats.requeued += len(lost.requeued)
        for letter in lost.dead:
            self._outcomes.dead_letter(letter)
        self._control.ended(lost)
        self._dirty = True

    def _lose(self, peer: bytes, why: str) -> None:
        info = self.peers.pop(peer, None)
        self._liveness.forget(peer)
        self._acks.gone(peer)
        if not self._ledger.knows(peer):
            return
        lost = self._ledger.lose(peer)
        self.stats.executors_lost += 1
        pid = f" (pid {info.pid})" if info else ""
        counts = (len(lost.requeued), len(lost.dead), len(lost.cancelled))
        what = "executor %s%s lost (%s); %d task(s) requeued, %d dead-lettered, %d cancelled"
        log.warning(what, peer.hex()[:12], pid, why, *counts)
        self._account_loss(lost)

    def _tick(self) -> None:
        now = self._now()
        self.records.tick(now)
        self._gate.sweep(now)
        self._inspect.sample(now)
        for peer in self._liveness.expired(now):
            if self._ledger.knows(peer):
                self._lose(peer, f"silent for over {self.liveness_timeout_s:g}s")
            else:
                self.peers.pop(peer, None)
                self._producers.gone(peer)
        for peer in self._liveness.owed(now):
            self._send(peer, Heartbeat(self._acks.acked(peer)))

    def after_batch(self) -> None:
        if self._until:
            self._until.check(self._snapshot())
        if self._dirty:
            self._dirty = False
            for peer, batch in self._ledger.dispatch(self._now()):
                self._send(peer, Assign(batch, self._acks.acked(peer)))
            if self.admission.queued:
                self.admission.room()
        self.admission.held = self._held()  # what kiq() callers see until the next batch
        if self.standby.busy:
            self.standby.flush()
        self._routing.flush(self._send)
        assert self._channel is not None
        if self._channel.backlog:
            for frames in self._channel.flush():
                self._lose(frames[0], "unroutable")
        # After the sends (workers run while we write); then acknowledge what we wrote.
        if self.journal is not None and self.records.flush(force=bool(self._producers.untaken)):
            self._acks.written()
            self._producers.written()

    # --- helpers --------------------------------------------------------------------------

    def _send(self, peer: bytes, message: Message) -> None:
        assert self._channel is not None
        if self._channel.send_message(message, self.config.max_msg_size, to=peer):
            self._liveness.sent(peer, self._now())
        elif self._ledger.knows(peer):
            self._lose(peer, "unroutable")
            self._dirty = True
        elif peer == self.standby.peer:
            self._producers.gone(peer)

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()
