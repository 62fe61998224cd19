"""What the dispatcher answers and reports: its asks, counters and records.

Kept apart from the actor so that callers (the broker, tests, tools) import these without it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zq.core.ledger import Ledger
from zq.core.messages import ROLE_PRODUCER
from zq.exceptions import ActorDeadError


@dataclass(slots=True)
class DeadLetterInfo:
    """A task taken out of circulation, and why (``broker.dead_letters()``)."""

    task_id: str
    task_name: str
    reason: str
    labels: dict[str, Any]
    queue: str
    payload: bytes
    origin: bytes | None = None  # the joined producer that submitted it, None for this process


MAX_DEAD_LETTERS = 10_000


@dataclass(slots=True)
class PeerInfo:
    """What a peer said about itself in its hello."""

    role: str
    pid: int
    hostname: str
    tasks: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)  # empty: every queue
    credit: int = 0  # slots granted in its hello
    ran: int = 0  # results it sent (an executor): tasks run in this session


@dataclass(slots=True)
class DispatcherStats:
    """Counters, for tests, benchmarks and operators."""

    submitted: int = 0
    completed: int = 0
    duplicates: int = 0  # executions beyond the first whose results reached us (zq.core.executions)
    unknown_results: int = 0  # results for tasks this dispatcher never knew (or forgot)
    repeated_kicks: int = 0  # a second kick of one schedule slot (another scheduler): dropped
    requeued: int = 0
    dead_lettered: int = 0
    retried: int = 0
    no_result: int = 0
    protocol_errors: int = 0
    handler_errors: int = 0  # messages whose handling raised (dropped; the dispatcher goes on)
    refused: int = 0  # messages dropped because the sender's key may not send them (CURVE)
    handshakes_failed: int = 0  # connections refused in their handshake (a key, CURVE or not)
    executors_lost: int = 0
    connections_closed: int = 0  # connections that said no hello in time, or over the bound
    acked: int = 0  # leases ended early by an ack
    recovered: int = 0  # unfinished tasks queued again from the journal at start-up
    busy: int = 0  # submitted tasks handed back for later: max_pending was reached
    cancelled: int = 0  # tasks ended by a cancel before they started, or when their worker left


@dataclass(slots=True, frozen=True)
class WaitUntil:
    """Ask: answer with the stats snapshot (``GetStats``) once ``predicate`` holds for it."""

    predicate: Callable[[dict[str, Any]], bool]


@dataclass(slots=True, frozen=True)
class Drain:
    """Ask: begin the graceful stop (answers None; ``WaitUntil(drained)`` waits for its end).

    From then on the dispatcher takes no new submissions from joined producers (they get
    them back as ``Busy``, and a ``Leaving``, so that one of them takes the address over) and
    keeps serving what it holds.
    """


@dataclass(slots=True, frozen=True)
class Depart:
    """Ask: the last step of a graceful stop; answered once no joined producer is left.

    The standby gets the dispatcher's records (``Handoff``), every joined producer a
    ``Farewell``; each answers with a ``Bye`` once it has read everything before it (a
    connection that closes drops what its peer has not read yet). The caller bounds the wait.
    """


def departed(snapshot: dict[str, Any]) -> bool:
    """Whether every joined producer said bye (``Depart``)."""
    return not snapshot["producers"]


def held(snapshot: dict[str, Any]) -> int:
    """Tasks the dispatcher holds: pending, delayed or leased."""
    count: int = snapshot["pending"] + snapshot["delayed"] + snapshot["leased"]
    return count


def drained(snapshot: dict[str, Any]) -> bool:
    """Whether a draining dispatcher is done: it holds no task, or no executor could run one.

    No executor (connected, or still finishing leases) means nothing held can progress, so
    the stop goes on instead of waiting out its timeout.
    """
    return not held(snapshot) or not snapshot["leases"]


def served(snapshot: dict[str, Any]) -> bool:
    """Whether the dispatcher holds nothing, or an executor is there to run it."""
    return not held(snapshot) or bool(snapshot["leases"])


@dataclass(slots=True, frozen=True)
class GetDeadLetters:
    """Ask: the dead letters held by this dispatcher (oldest first)."""


@dataclass(slots=True, frozen=True)
class ReplayDeadLetters:
    """Ask: put these dead letters (None: all) back in their queues; answers their ids."""

    task_ids: list[str] | None = None


@dataclass(slots=True, frozen=True)
class PurgeDeadLetters:
    """Ask: forget these dead letters (None: all); answers how many went."""

    task_ids: list[str] | None = None


@dataclass(slots=True, frozen=True)
class GetStats:
    """Ask: queue sizes, connected executors and counters."""


Snapshot = dict[str, Any]


class Conditions:
    """The pending ``WaitUntil`` asks: each is answered after the first batch it holds for."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[Snapshot], bool], asyncio.Future[Snapshot]]] = []

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def ask(
        self,
        predicate: Callable[[Snapshot], bool],
        snapshot: Snapshot,
        loop: asyncio.AbstractEventLoop,
    ) -> Snapshot | asyncio.Future[Snapshot]:
        """The snapshot if ``predicate`` holds now, else a future resolved when it does."""
        if predicate(snapshot):
            return snapshot
        waiter: asyncio.Future[Snapshot] = loop.create_future()
        self._waiting.append((predicate, waiter))
        return waiter

    def check(self, snapshot: Snapshot) -> None:
        """Answer the asks whose predicate holds for ``snapshot``."""
        keep = []
        for predicate, waiter in self._waiting:
            if waiter.done():
                continue
            if predicate(snapshot):
                waiter.set_result(snapshot)
            else:
                keep.append((predicate, waiter))
        self._waiting = keep

    def cancel(self) -> None:
        """The dispatcher stopped: nothing will hold any more; each asker gets ``ActorDeadError``.

        Not a cancellation: the caller of ``wait_until`` did not cancel anything, and the
        actor base promises that a pending ask fails with ``ActorDeadError`` (never hangs).
        """
        for _, waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(
                    ActorDeadError("the dispatcher stopped before the condition held")
                )
        self._waiting = []


def snapshot(
    ledger: Ledger, peers: dict[bytes, PeerInfo], stats: DispatcherStats
) -> dict[str, Any]:
    """What ``stats()`` and ``wait_until`` see: queue sizes, executors, a copy of the counters.

    The dispatcher adds ``standby``: the joined process holding a copy of its own tasks, or None.
    """
    executors = ledger.executors()
    return {
        "pending": ledger.pending_count,
        "delayed": ledger.delayed_count,
        "leased": ledger.leased_count,
        "executors": {p: peers[p] for p in executors if p in peers},
        "leases": {p: len(ledger.leases_of(p)) for p in executors},
        "producers": sum(1 for info in peers.values() if info.role == ROLE_PRODUCER),
        "stats": copy.copy(stats),  # a snapshot: it does not change under the caller
    }
