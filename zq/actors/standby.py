"""The dispatcher's standby: a joined process of the app that holds a copy of its own tasks.

Part of the dispatcher (it owns one and is the only caller). The tasks a joined producer
submitted are held by that producer until their results arrive; the ones this process kicked
(and the ones its workers' tasks kicked) have no such second holder unless there is a journal.
So the dispatcher copies them to one joined producer, the *standby*, in a ``Copy`` per batch,
and a ``kiq()`` returns once the standby has acknowledged it (``Copied``), as it would wait for
the journal's commit. Finished tasks are dropped from the copy (``Drop``). If this process dies,
the standby takes the address over (``zq.brokers.handover``) and submits the copies again.

The first joined producer becomes the standby; when it leaves, the next one gets a fresh copy
of everything held. Without any, ``kiq()`` does not wait, and a crash of this process loses
its pending tasks: the start-up line and the log say so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from zq.core.messages import Copy, Drop, Message, TaskMsg

log = logging.getLogger("zq.dispatcher")


class Standby:
    """Which peer holds the copy, what it holds, and the ``kiq()`` calls waiting for it."""

    def __init__(
        self, send: Callable[[bytes, Message], None], held: Callable[[], list[TaskMsg]]
    ) -> None:
        self._send = send
        self._held = held  # the tasks only this process holds (from the ledger), for a new one
        self.peer: bytes | None = None
        self.candidates: dict[bytes, None] = {}  # joined producers, oldest first
        self._copied: set[str] = set()  # ids the standby holds (or is about to)
        self._copy: list[TaskMsg] = []
        self._drop: list[str] = []
        self._seq = 0
        self._current: asyncio.Future[None] | None = None  # kiq()s of the next Copy
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}  # by the seq of their Copy
        self.busy = False  # something to send in ``flush``

    def accepted(self, task: TaskMsg) -> None:
        """A task only this process holds (call only with a ``peer``): copy it."""
        self._copy.append(task)
        self._copied.add(task.task_id)
        self.busy = True

    def finished(self, task_id: str) -> None:
        """A task ended (call only with a ``peer``): the standby forgets it if it has it."""
        if task_id in self._copied:
            self._copied.discard(task_id)
            self._drop.append(task_id)
            self.busy = True

    def copied(self) -> asyncio.Future[None] | None:
        """Resolved once the standby holds what was told before this call; None: no standby."""
        if self.peer is None:
            return None
        if self._current is None:
            self._current = asyncio.get_running_loop().create_future()
        return self._current

    def flush(self) -> None:
        """Send this batch's copies and drops."""
        self.busy = False
        peer = self.peer
        if peer is None:
            return
        if self._copy or self._current is not None:
            self._seq += 1
            self._send(peer, Copy(self._seq, self._copy))
            self._copy = []
            if self._current is not None:
                self._waiting[self._seq] = [self._current]
                self._current = None
        if self._drop:
            self._send(peer, Drop(self._drop))
            self._drop = []

    def acknowledged(self, peer: bytes, seq: int) -> None:
        """The standby holds every copy up to ``seq``: those ``kiq()`` calls return."""
        if peer != self.peer:
            return
        for done in [s for s in self._waiting if s <= seq]:
            _resolve(self._waiting.pop(done))

    def joined(self, peer: bytes) -> None:
        """A producer joined: the standby, if there is none yet."""
        self.candidates[peer] = None
        if self.peer is None:
            self._choose()

    def gone(self, peer: bytes) -> None:
        """A producer left (said bye, went silent or unroutable): choose another standby."""
        self.candidates.pop(peer, None)
        if peer == self.peer:
            log.warning("standby %s left", peer.hex()[:12])
            self.peer = None
            self._choose()

    def _choose(self) -> None:
        """The oldest joined producer gets a fresh copy of all held; the waiting calls move."""
        waiting = [w for ws in self._waiting.values() for w in ws]
        if self._current is not None:
            waiting.append(self._current)
        self._waiting = {}
        self._current = None
        self._copy, self._drop = [], []
        held = self._held()
        self._copied = {task.task_id for task in held}
        if not self.candidates:
            _resolve(waiting)  # nobody to wait for: kiq() returns, the task held here only
            if held:
                log.warning(
                    "no standby any more: a crash of this process loses the %d task(s) it "
                    "holds (join a second process of the app, or set journal=)",
                    len(held),
                )
            return
        peer = self.peer = next(iter(self.candidates))
        self._seq += 1
        self._waiting[self._seq] = waiting  # answered by this fresh copy's ack
        log.info("standby: %s holds a copy of the %d task(s) held here", peer.hex()[:12], len(held))
        # Last: if the send fails, ``gone`` chooses again and takes the waiting calls along.
        self._send(peer, Copy(self._seq, held, fresh=True))


def _resolve(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
