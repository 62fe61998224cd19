"""Dispatcher: binds the ROUTER, feeds the ledger, performs the effects it returns.

All decisions are the ledger's (``zq.ledger``) and the liveness table's (``zq.liveness``); this
actor decodes frames, turns them into ledger events, and sends what the ledger decided, one
batch per peer per wake-up.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import zmq

from zq.actors.admission import Admission
from zq.actors.base import Actor
from zq.actors.dispatcher_api import (
    Conditions,
    DispatcherStats,
    GetDeadLetters,
    GetStats,
    PeerInfo,
    PurgeDeadLetters,
    ReplayDeadLetters,
    WaitUntil,
)
from zq.actors.gate import Gate
from zq.actors.records import Records
from zq.actors.results import FetchResults, Forget, Put, ResultStore
from zq.actors.routing import Routing
from zq.exceptions import RemoteProtocolError
from zq.executions import Executions
from zq.journal import Journal
from zq.ledger import DeadLetter, Ledger, Lost
from zq.liveness import Liveness
from zq.messages import (
    ROLE_EXECUTOR,
    Ack,
    Assign,
    Busy,
    Bye,
    Credit,
    ErrorInfo,
    Farewell,
    Fetch,
    Heartbeat,
    Hello,
    Message,
    Progress,
    Rejoin,
    ResultMsg,
    Results,
    Submit,
    TaskMsg,
    Welcome,
)
from zq.remote_errors import is_zq_error
from zq.transport.channel import Channel, decoded, decoded_with_meta
from zq.transport.curve import AllowList
from zq.transport.sockets import SocketConfig, router

log = logging.getLogger("zq.dispatcher")


@dataclass(slots=True, frozen=True)
class _Tick:
    """Timer message: check liveness and send heartbeats."""


@dataclass(slots=True, frozen=True)
class _Release:
    """Timer message: delayed tasks may be due."""


@dataclass(slots=True, frozen=True)
class _Found:
    """Results the store had for a peer's ``Fetch``."""

    peer: bytes
    results: list[ResultMsg]
    missing: list[str]


class Dispatcher(Actor):
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
        self._routing = Routing(results)
        self._executions = Executions(self._accepted_run)
        self._received: dict[bytes, int] = {}  # results from each executor's session
        # What executors are told we have (they keep the rest to send again): with a journal,
        # only results on disk, so a crash never loses a result its executor forgot.
        self._acked: dict[bytes, int] = self._received if journal is None else {}
        self._dirty = False
        self._until = Conditions()
        self._release_at: float | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def on_start(self) -> None:
        self._ctx = zmq.Context()
        assert self._loop is not None
        try:
            self._gate.open(self._ctx, self._loop, self.address)  # before anything binds
            sock, self.endpoint = router(self._ctx, self.address, self.config)
        except BaseException:
            self._gate.close()
            self._ctx.term()
            raise
        self._channel = Channel(sock, self._wake)
        self._channel.attach(self._loop)
        self._gate.watch(sock)
        self._recover()
        self.send_after(self.heartbeat_s / 2, _Tick())
        log.debug("dispatcher bound %s", self.endpoint)

    def _recover(self) -> None:
        """Queue again what the journal held: the tasks a previous run had not finished."""
        found = self.records.load()
        if found is None:
            return
        for origin, task in found.tasks:
            self._submit(task, origin, journaled=True)
        if found.results:
            self._results.tell_nowait(Put(found.results))
        for reason, origin, task in found.dead:
            self.records.dead(task, reason, origin, journaled=True)
        self.stats.dead_lettered += len(found.dead)
        self.stats.recovered = len(found.tasks)

    def committed(self) -> asyncio.Future[None]:
        """Resolved once what was told before this call is on disk (with a journal)."""
        assert self._loop is not None
        return self.records.committed(self._loop)

    async def on_stop(self) -> None:
        self.records.close(crashed=self.crash is not None)
        if self._channel is not None:
            self._channel.close()
        self._gate.close()
        if self._ctx is not None:
            self._ctx.term()
        self._until.cancel()

    # --- inputs ---------------------------------------------------------------------------

    def receive(self, message: Any) -> None:
        if type(message) is TaskMsg:  # a kiq() in this process: the hot path
            self.admission.arrived()
            self._submit(message, None)
        elif type(message) is _Tick:
            self._tick()
            self.send_after(self.heartbeat_s / 2, _Tick())
        elif type(message) is _Release:
            self._release_at = None
            if self._ledger.release(self._now()):
                self._dirty = True
            self._arm_release()
        elif type(message) is FetchResults:
            self._fetch(None, message.task_ids)
        elif type(message) is _Found:
            self._routing.forward(message.peer, message.results, message.missing)
        else:
            super().receive(message)

    def answer(self, message: Any) -> Any:
        if type(message) is WaitUntil:
            assert self._loop is not None
            return self._until.ask(message.predicate, self._snapshot(), self._loop)
        if type(message) is GetDeadLetters:
            return list(self.dead_letters.values())
        if type(message) is GetStats:
            return self._snapshot()
        if type(message) is ReplayDeadLetters:
            return self._replay(message.task_ids)
        if type(message) is PurgeDeadLetters:
            return len(self.records.take_dead(message.task_ids))
        return super().answer(message)

    def _replay(self, task_ids: list[str] | None) -> list[str]:
        """Dead letters go back to their queues under their own ids, with fresh deliveries.

        The store forgets the error result first, so the replayed run's result is the one
        ``wait_result`` sees.
        """
        replays = self.records.replays(task_ids)
        if replays:
            self._results.tell_nowait(Forget([task.task_id for task, _ in replays]))
        for task, origin in replays:
            self._submit(task, origin)
        return [task.task_id for task, _ in replays]

    def _snapshot(self) -> dict[str, Any]:
        return {
            "pending": self._ledger.pending_count,
            "delayed": self._ledger.delayed_count,
            "leased": self._ledger.leased_count,
            "executors": {p: self.peers[p] for p in self._ledger.executors() if p in self.peers},
            "leases": {p: len(self._ledger.leases_of(p)) for p in self._ledger.executors()},
            "stats": copy.copy(self.stats),  # a snapshot: it does not change under the caller
        }

    def poll_io(self) -> bool:
        channel = self._channel
        assert channel is not None
        self._gate.poll()
        if self._gate.curve or self._gate.unspoken:
            return self._poll_checked(channel)
        batch = channel.recv_batch()
        if not batch:
            return False
        now = self._now()
        heard = self._liveness.heard
        for peer, message in decoded(batch, routed=True, on_error=self._gate.protocol_error):
            heard(peer, now)
            self._handle(peer, message)
        return len(batch) >= 1000 or channel.readable()

    def _poll_checked(self, channel: Channel) -> bool:
        """``poll_io`` with CURVE, or while a connection has not said hello yet.

        With CURVE each message is checked against its sender key's role; a ``Hello`` marks
        its connection as a zq peer's (the others are closed after the handshake timeout).
        """
        gate = self._gate
        curve = gate.curve
        batch, users, fds = channel.recv_batch_with_meta(users=curve)
        if not batch:
            return False
        now = self._now()
        messages = decoded_with_meta(batch, users, fds, on_error=gate.protocol_error)
        for peer, message, user, fd in messages:
            if curve and not gate.check(peer, user, message):
                continue
            if type(message) is Hello:
                gate.spoke(fd)
            self._liveness.heard(peer, now)
            self._handle(peer, message)
        return len(batch) >= 1000 or channel.readable()

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
        ledger = self._ledger
        match message:
            case Results():
                self._results_from(peer, message)
            case Submit(tasks=tasks):
                if peer not in self.peers:  # a session we lost (or from before a restart):
                    self._send(peer, Rejoin(self.incarnation))  # keep its tasks all the same
                back = self._take(peer, tasks)
                if back:
                    self.stats.busy += len(back)
                    self._send(peer, Busy(back))
            case Ack(task_ids=task_ids):
                for task_id in task_ids:
                    self.stats.acked += ledger.ack(peer, task_id)
            case Progress(items=items):
                for item in items:
                    known, origin = ledger.origin_of(item[0])
                    if known:
                        self._routing.progress(item, origin)
            case Fetch(task_ids=task_ids):
                if peer in self.peers:
                    self._fetch(peer, task_ids)
                else:
                    self._send(peer, Rejoin(self.incarnation))
            case Credit(amount=amount):
                if ledger.knows(peer):
                    ledger.grant(peer, amount)
                    self._dirty = True
                else:
                    self._send(peer, Rejoin(self.incarnation))
            case Heartbeat():
                if peer not in self.peers:
                    self._send(peer, Rejoin(self.incarnation))
            case Hello():
                self._hello(peer, message)
            case Bye(returned=returned, cancelled=cancelled):
                self._send(peer, Farewell())
                requeued = ledger.leave(peer, returned, cancelled)
                self.stats.requeued += len(requeued)
                self.peers.pop(peer, None)
                self._received.pop(peer, None)
                self._acked.pop(peer, None)
                self._dirty = True
            case _:
                self._gate.protocol_error(
                    peer, RemoteProtocolError(f"unexpected {type(message).__name__}")
                )

    def _results_from(self, peer: bytes, message: Results) -> None:
        results = message.results
        received = self._received
        received[peer] = received.get(peer, 0) + len(results)
        ledger = self._ledger
        known = ledger.knows(peer)
        if message.resent:
            for result in results:
                self._resent(result)
        else:
            for result in results:
                self._complete(peer, result)
        if known:
            if message.credit:
                ledger.grant(peer, message.credit)
                self._dirty = True
        else:  # we restarted, or declared it lost: its results count, then it rejoins
            self._send(peer, Rejoin(self.incarnation))

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
            self._received[peer] = self._acked[peer] = 0  # counted from the session's hello
            self._dirty = True
        self.peers[peer] = PeerInfo(
            hello.role, hello.pid, hello.hostname, hello.tasks, hello.queues, hello.credit
        )
        self._send(peer, Welcome(self.incarnation, self.heartbeat_s))
        log.info(
            "%s %s joined (pid %d on %s)", hello.role, peer.hex()[:12], hello.pid, hello.hostname
        )

    # --- ledger events and their effects --------------------------------------------------

    def _submit(self, task: TaskMsg, origin: bytes | None, journaled: bool = False) -> None:
        labels = task.labels
        due = self._due(task) if labels and "delay" in labels else None
        ledger = self._ledger
        if "schedule_id" in labels and self.records.repeated_run(task, ledger, self._now()):
            self.stats.repeated_kicks += 1  # the same slot, from a second scheduler: dropped
            return
        if ledger.submit(task, origin, due):
            self.stats.submitted += 1
            if self.journal is not None and not journaled:
                self.records.accepted(task, origin)
            if due is None:
                self._dirty = True
            else:
                self._arm_release()

    def _take(self, peer: bytes, tasks: list[TaskMsg]) -> list[TaskMsg]:
        """Submit what ``max_pending`` has room for; returns the tasks handed back.

        A task the ledger already holds (a retry's successor, a resubmission) takes no room:
        deferring it would let its predecessor's result end it first.
        """
        room = self.admission.free()
        if room >= len(tasks):
            for task in tasks:
                self._submit(task, peer)
            return []
        back = []
        for task in tasks:
            if room > 0 or self._ledger.origin_of(task.task_id)[0]:
                room -= 1
                self._submit(task, peer)
            else:
                back.append(task)
        return back

    def _held(self) -> int:
        """Tasks waiting here (pending or delayed): what ``max_pending`` bounds."""
        return self._ledger.pending_count + self._ledger.delayed_count

    def _due(self, task: TaskMsg) -> float | None:
        """The time a task with a ``delay`` label (seconds) is due, or None to run it now."""
        try:
            delay = float(task.labels["delay"])
        except (TypeError, ValueError):
            log.warning("task %s: ignoring bad delay %r", task.task_id, task.labels["delay"])
            return None
        return self._now() + delay if delay > 0 else None

    def _arm_release(self) -> None:
        due = self._ledger.next_due()
        if due is not None and (self._release_at is None or due < self._release_at):
            self._release_at = due
            self.send_after(max(0.0, due - self._now()), _Release())

    def _complete(self, peer: bytes, result: ResultMsg) -> None:
        done = self._ledger.complete(peer, result.task_id)
        if done.outcome == "duplicate":  # not in the ledger: ran again, sent again, or unknown
            self._count_again(result)
            return
        if done.outcome == "retried":  # its successor runs next; this run's outcome is not final
            self.stats.retried += 1
            self._dirty = True
            self._arm_release()
            return
        self.stats.completed += 1
        if self._executions.early_runs:  # only after a session ended: results were resent
            self.stats.duplicates += self._executions.finished(result.task_id, result.run)
        if self.journal is not None:
            self.records.finished(result.task_id)
        error = result.error
        if error is not None:
            if is_zq_error(error, "NoResultError"):  # the task chose to have no result
                self.stats.no_result += 1
                self._routing.unwatch(result.task_id)
                return
            if is_zq_error(error, "TaskRejectedError") and done.task is not None:
                reason = f"rejected by the task: {error.message}"
                self._record_dead(done.task, reason, done.origin)
        self._deliver(result, done.origin)

    def _count_again(self, result: ResultMsg) -> None:
        """A result for a task that is not in the ledger (see ``zq.executions``)."""
        again = self._executions.again(result.task_id, result.run)
        if again == "duplicate":
            self.stats.duplicates += 1
        elif again == "unknown":
            self.stats.unknown_results += 1
            log.debug("a result for task %s, which this dispatcher does not know", result.task_id)

    def _accepted_run(self, task_id: str) -> int | None:
        """The run of the result kept for a finished task (zq.executions), or None."""
        result = self._routing.routed(task_id) or self._results.peek_now(task_id)
        return None if result is None else result.run

    def _resent(self, result: ResultMsg) -> None:
        """A result sent again after its session ended: count its run, never complete with it.

        The task it belongs to may have a successor (a retry) by now, or run elsewhere: its
        own result ends it.
        """
        if self._ledger.origin_of(result.task_id)[0]:
            self._executions.early(result.task_id, result.run)
        else:
            self._count_again(result)

    def _deliver(self, result: ResultMsg, origin: bytes | None) -> None:
        if self.journal is not None:
            self.records.stored(result)
        self._routing.result(result, origin)

    def _fetch(self, peer: bytes | None, task_ids: list[str]) -> None:
        """A process wants results of tasks it did not kick: watch live ones, look up others."""
        done = []
        for task_id in task_ids:
            known, origin = self._ledger.origin_of(task_id)
            if known:
                if origin != peer:
                    self._routing.watch(task_id, peer)
            else:
                done.append(task_id)
        if not done:
            return
        if peer is None:  # the store has their results, or they expired: it tells which
            self._routing.expire(done)
        else:
            self._routing.look_up(peer, done, self._found)

    async def _found(self, peer: bytes, results: list[ResultMsg], missing: list[str]) -> None:
        if self.alive:
            await self.tell(_Found(peer, results, missing))

    def _record_dead(self, task: TaskMsg, reason: str, origin: bytes | None) -> None:
        self.stats.dead_lettered += 1
        self._executions.dropped(task.task_id)
        self.records.dead(task, reason, origin)

    def _account_loss(self, lost: Lost) -> None:
        self.stats.requeued += len(lost.requeued)
        for letter in lost.dead:
            self._dead_letter(letter)
        self._dirty = True

    def _dead_letter(self, letter: DeadLetter) -> None:
        self._record_dead(letter.task, letter.reason, letter.origin)
        error = ErrorInfo("zq.exceptions", letter.error, letter.reason, [letter.reason])
        self._deliver(
            ResultMsg(letter.task.task_id, True, b"", 0.0, letter.task.labels, error), letter.origin
        )

    def _lose(self, peer: bytes, why: str) -> None:
        info = self.peers.pop(peer, None)
        self._liveness.forget(peer)
        self._received.pop(peer, None)
        self._acked.pop(peer, None)
        if not self._ledger.knows(peer):
            return
        lost = self._ledger.lose(peer)
        self.stats.executors_lost += 1
        log.warning(
            "executor %s%s lost (%s); %d task(s) requeued, %d dead-lettered",
            peer.hex()[:12],
            f" (pid {info.pid})" if info else "",
            why,
            len(lost.requeued),
            len(lost.dead),
        )
        self._account_loss(lost)

    def _tick(self) -> None:
        now = self._now()
        self.records.tick(now)
        self._gate.sweep(now)
        for peer in self._liveness.expired(now):
            if self._ledger.knows(peer):
                self._lose(peer, f"silent for over {self.liveness_timeout_s:g}s")
            else:
                self.peers.pop(peer, None)
        for peer in self._liveness.owed(now):
            self._send(peer, Heartbeat(self._acked.get(peer, 0)))

    def after_batch(self) -> None:
        if self._until:
            self._until.check(self._snapshot())
        if self._dirty:
            self._dirty = False
            for peer, batch in self._ledger.dispatch():
                self._send(peer, Assign(batch, self._acked.get(peer, 0)))
            if self.admission.queued:
                self.admission.room()
        self._routing.flush(self._send)
        assert self._channel is not None
        if self._channel.backlog:
            for frames in self._channel.flush():
                self._lose(frames[0], "unroutable")
        if self.journal is not None and self.records.flush():  # after the sends: workers run
            self._acked = dict(self._received)  # while we write; then acknowledge what we wrote

    # --- helpers --------------------------------------------------------------------------

    def _send(self, peer: bytes, message: Message) -> None:
        assert self._channel is not None
        if self._channel.send_message(message, self.config.max_msg_size, to=peer):
            self._liveness.sent(peer, self._now())
        elif self._ledger.knows(peer):
            self._lose(peer, "unroutable")
            self._dirty = True

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()
