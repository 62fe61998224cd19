"""The dispatcher's side of joined producers: their submissions, ``Busy``, ``Leaving``, ``Taken``.

Part of the dispatcher (it owns one and is the only caller). A joined producer keeps each task
until its result arrives, so that it can submit it again to the next dispatcher; this tells it
what it needs to know for that: that the dispatcher is full (``Busy``: later), that it is
leaving (``Leaving``: hold new tasks, take the address over), and, with a journal, that its
tasks are on disk (``Taken``: a producer that stops need not wait for their results).
"""

from __future__ import annotations

from collections.abc import Callable

from zq.actors.admission import Admission
from zq.actors.dispatcher_api import DispatcherStats, PeerInfo
from zq.actors.standby import Standby
from zq.core.ledger import Ledger
from zq.core.messages import (
    ROLE_PRODUCER,
    Busy,
    Farewell,
    Handoff,
    Leaving,
    Message,
    Resubmit,
    Submit,
    Taken,
    TaskMsg,
)


class Producers:
    """Submissions from joined producers, and what the dispatcher tells them back."""

    def __init__(
        self,
        incarnation: str,
        admission: Admission,
        ledger: Ledger,
        stats: DispatcherStats,
        send: Callable[[bytes, Message], None],
        done: Callable[[str], bool],
        fetch: Callable[[bytes, list[str]], None],
        standby: Standby,
        *,
        durable: bool,
    ) -> None:
        self._incarnation = incarnation
        self._admission = admission
        self._ledger = ledger
        self._stats = stats
        self._send = send
        self._durable = durable
        self._done = done  # whether the store has a result for this task id
        self._fetch = fetch
        self.standby = standby
        self.draining = False  # the graceful stop began: no new submissions
        self.departed = False  # the records and the farewells went out (``farewell``)
        self.untaken: dict[bytes, list[str]] = {}  # on their way to disk, by producer

    def submitted(
        self, peer: bytes, message: Submit | Resubmit, submit: Callable[[TaskMsg, bytes], None]
    ) -> None:
        """Take what there is room for; hand the rest back (``Busy``), or all if draining.

        Of resubmitted tasks, those already finished here are not run again: their results
        are sent (the producer lost them with its session, or its dispatcher was replaced).
        """
        if self.draining:  # they go to the next incarnation, which the producer resubmits to
            self._send(peer, Busy(message.tasks))
            self._send(peer, Leaving(self._incarnation))
            return
        tasks = message.tasks
        if type(message) is Resubmit:
            finished = [t.task_id for t in tasks if self._done(t.task_id)]
            if finished:  # sent again, never run again
                self._fetch(peer, finished)
                tasks = [t for t in tasks if not self._done(t.task_id)]
        taken, back = self._admission.split(tasks, self._ledger.holds)
        for task in taken:
            submit(task, peer)
        if self._durable and taken:
            self.untaken.setdefault(peer, []).extend(task.task_id for task in taken)
        if back:
            self._stats.busy += len(back)
            self._send(peer, Busy(back))

    def written(self) -> None:
        """Everything so far is on disk: tell each producer which of its tasks are."""
        for peer, task_ids in self.untaken.items():
            self._send(peer, Taken(task_ids))
        self.untaken = {}

    def drain(self, peers: dict[bytes, PeerInfo]) -> None:
        """The graceful stop begins: every joined producer is told ``Leaving``."""
        self.draining = True
        for peer, info in peers.items():
            if info.role == ROLE_PRODUCER:
                self._send(peer, Leaving(self._incarnation))

    def welcomed(self, peer: bytes, role: str, *, first: bool) -> None:
        """A peer was welcomed (``first``: not a retried hello).

        A producer may become the standby; one joining a draining dispatcher is told at once.
        """
        if role != ROLE_PRODUCER:  # an executor, or an observer (never the standby)
            return
        if self.draining:
            self._send(peer, Leaving(self._incarnation))
        if first:
            self.standby.joined(peer)

    def farewell(self, peers: dict[bytes, PeerInfo], handoff: Handoff) -> None:
        """The dispatcher stops: its records to the standby, a ``Farewell`` to every producer.

        On the ``Farewell`` a producer takes the address over, or joins whoever did.
        """
        self.departed = True
        if self.standby.peer is not None:
            self._send(self.standby.peer, handoff)
        for peer, info in peers.items():
            if info.role == ROLE_PRODUCER:
                self._send(peer, Farewell())

    def gone(self, peer: bytes) -> None:
        """A peer that is not an executor left (bye, silent, unroutable)."""
        self.untaken.pop(peer, None)
        if not self.departed:  # after our Farewell the standby leaves to take over: it is ours
            self.standby.gone(peer)
