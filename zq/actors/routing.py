"""Who gets a result or a progress report: this process's store, the submitter, the watchers.

Part of the dispatcher (it owns one and is the only caller). A result goes to the result store
of the dispatcher's process always (so any process can fetch it later) and to the peer that
submitted the task; a process that asked for a task it did not kick (``Fetch``) watches it and
gets its result and progress too. Everything gathers during a batch and goes out in
``flush``: one ``put`` into the store, one ``Forward`` per peer.
"""

from __future__ import annotations

from collections.abc import Callable

from zq.actors.results import ResultStore
from zq.core.messages import Forward, Read, ResultMsg

Progress = tuple[str, bytes]
Item = tuple[str, int, bytes]
RouteOf = Callable[[str], "tuple[bytes | None, bytes | None] | None"]  # (origin, holder)


class Routing:
    """The results and progress of one batch, by destination."""

    def __init__(self, store: ResultStore) -> None:
        self._store = store
        self._local: list[ResultMsg] = []
        self._forwards: dict[bytes, list[ResultMsg]] = {}
        self._local_progress: list[Progress] = []
        self._forward_progress: dict[bytes, list[Progress]] = {}
        self._local_items: list[Item] = []
        self._forward_items: dict[bytes, list[Item]] = {}
        self._expired: dict[bytes, list[str]] = {}
        self._local_expired: list[str] = []
        self._watchers: dict[str, set[bytes | None]] = {}  # task id -> who fetched it
        self._look_ups: list[tuple[bytes, list[str]]] = []  # fetched, finished: answered in flush

    def result(self, result: ResultMsg, origin: bytes | None) -> None:
        """Deliver a task's result to its submitter and watchers (and this process's store)."""
        self._local.append(result)  # kept here even when forwarded: any process can fetch it
        if origin is not None:
            self._forwards.setdefault(origin, []).append(result)
        if self._watchers:
            for peer in self._watchers.pop(result.task_id, ()):
                if peer is not None and peer != origin:
                    self._forwards.setdefault(peer, []).append(result)

    def routed(self, task_id: str) -> ResultMsg | None:
        """A result for ``task_id`` gathered in this batch, not yet in the store (a rare look)."""
        for result in self._local:
            if result.task_id == task_id:
                return result
        return None

    def forward(self, peer: bytes, results: list[ResultMsg], missing: list[str]) -> None:
        """Send ``peer`` results it fetched that were already stored, and those that are gone."""
        if results:
            self._forwards.setdefault(peer, []).extend(results)
        if missing:
            self._expired.setdefault(peer, []).extend(missing)

    def expire(self, task_ids: list[str]) -> None:
        """Fetched by this process and not running: their waiters without a result fail.

        Told in ``flush``, after this batch's results: one of them may be what ended the task.
        """
        self._local_expired.extend(task_ids)

    def progressed(
        self, items: list[Progress], origin_of: Callable[[str], tuple[bool, bytes | None]]
    ) -> None:
        """Progress reports of running tasks (a ``Progress`` message): each one routed."""
        for item in items:
            known, origin = origin_of(item[0])
            if known:
                self.progress(item, origin)

    def progress(self, item: Progress, origin: bytes | None) -> None:
        """A running task's progress, for its submitter and watchers."""
        for target in {origin, *self._watchers.get(item[0], ())}:
            if target is None:
                self._local_progress.append(item)
            else:
                self._forward_progress.setdefault(target, []).append(item)

    def items(self, peer: bytes, items: list[Item], route_of: RouteOf) -> None:
        """Items a generator task streamed: for its submitter and watchers, as progress.

        Only from the executor holding the task's lease: a run that lost it (its executor
        was declared lost, the task runs elsewhere) streams to nobody.
        """
        for item in items:
            route = route_of(item[0])
            if route is None or route[1] != peer:
                continue
            for target in {route[0], *self._watchers.get(item[0], ())}:
                if target is None:
                    self._local_items.append(item)
                else:
                    self._forward_items.setdefault(target, []).append(item)

    def read(
        self, acks: list[tuple[str, int]], route_of: RouteOf, send: Callable[[bytes, Read], None]
    ) -> None:
        """A reader's positions in streams: to the executors running those tasks."""
        relay: dict[bytes, list[tuple[str, int]]] = {}
        for ack in acks:
            route = route_of(ack[0])
            if route is not None and route[1] is not None:
                relay.setdefault(route[1], []).append(ack)
        for holder, relayed in relay.items():
            send(holder, Read(relayed))

    def watch(self, task_id: str, peer: bytes | None) -> None:
        """``peer`` (None: this process) wants the result of a task still in the ledger."""
        self._watchers.setdefault(task_id, set()).add(peer)

    def fetch(
        self,
        peer: bytes | None,
        task_ids: list[str],
        origin_of: Callable[[str], tuple[bool, bytes | None]],
    ) -> None:
        """``peer`` (None: this process) wants results of tasks it did not kick.

        Live ones (``origin_of`` says the ledger holds them) are watched; for the others, this
        process's store answers: with their results, or that they expired.
        """
        done = []
        for task_id in task_ids:
            known, origin = origin_of(task_id)
            if known:
                if origin != peer:
                    self.watch(task_id, peer)
            else:
                done.append(task_id)
        if not done:
            return
        if peer is None:  # the store has their results, or they expired: it tells which
            self.expire(done)
        else:  # answered in flush, once this batch's results are in the store
            self._look_ups.append((peer, done))

    def unwatch(self, task_id: str) -> None:
        """The task ended without a result to deliver."""
        self._watchers.pop(task_id, None)

    def flush(self, send: Callable[[bytes, Forward], None]) -> None:
        """Send what gathered: one ``put`` into the store, one ``Forward`` per peer.

        Streamed items go before results: a task's last items may end in its result's batch.
        """
        if self._local_items:
            self._store.put_items(self._local_items)
            self._local_items = []
        if self._local:
            self._store.put(self._local)
            self._local = []
        if self._look_ups:
            for peer, task_ids in self._look_ups:
                found = [(i, self._store.peek(i)) for i in task_ids]
                results = [r for _, r in found if r is not None]
                self.forward(peer, results, [i for i, r in found if r is None])
            self._look_ups = []
        if self._local_progress:
            self._store.put_progress(self._local_progress)
            self._local_progress = []
        if self._local_expired:
            self._store.expire(self._local_expired)
            self._local_expired = []
        if self._forwards or self._forward_progress or self._expired or self._forward_items:
            forwards, self._forwards = self._forwards, {}
            progress, self._forward_progress = self._forward_progress, {}
            expired, self._expired = self._expired, {}
            items, self._forward_items = self._forward_items, {}
            for peer in forwards.keys() | progress.keys() | expired.keys() | items.keys():
                send(
                    peer,
                    Forward(
                        forwards.get(peer, []),
                        progress.get(peer, []),
                        expired.get(peer, []),
                        items.get(peer, []),
                    ),
                )
