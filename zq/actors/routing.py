"""Who gets a result or a progress report: this process's store, the submitter, the watchers.

Part of the dispatcher (it owns one and is the only caller). A result goes to the result store
of the dispatcher's process always (so any process can fetch it later) and to the peer that
submitted the task; a process that asked for a task it did not kick (``Fetch``) watches it and
gets its result and progress too. Everything gathers during a batch and goes out in
``flush``: one ``Put`` to the store, one ``Forward`` per peer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from zq.actors.results import Peek, Put, PutProgress, ResultStore
from zq.messages import Forward, ResultMsg

Progress = tuple[str, bytes]


class Routing:
    """The results and progress of one batch, by destination."""

    def __init__(self, store: ResultStore) -> None:
        self._store = store
        self._local: list[ResultMsg] = []
        self._forwards: dict[bytes, list[ResultMsg]] = {}
        self._local_progress: list[Progress] = []
        self._forward_progress: dict[bytes, list[Progress]] = {}
        self._watchers: dict[str, set[bytes | None]] = {}  # task id -> who fetched it
        self._lookups: set[asyncio.Task[None]] = set()

    def result(self, result: ResultMsg, origin: bytes | None) -> None:
        """Deliver a task's result to its submitter and watchers (and this process's store)."""
        self._local.append(result)  # kept here even when forwarded: any process can fetch it
        if origin is not None:
            self._forwards.setdefault(origin, []).append(result)
        if self._watchers:
            for peer in self._watchers.pop(result.task_id, ()):
                if peer is not None and peer != origin:
                    self._forwards.setdefault(peer, []).append(result)

    def forward(self, peer: bytes, results: list[ResultMsg]) -> None:
        """Send ``peer`` results it fetched that were already stored."""
        if results:
            self._forwards.setdefault(peer, []).extend(results)

    def progress(self, item: Progress, origin: bytes | None) -> None:
        """A running task's progress, for its submitter and watchers."""
        for target in {origin, *self._watchers.get(item[0], ())}:
            if target is None:
                self._local_progress.append(item)
            else:
                self._forward_progress.setdefault(target, []).append(item)

    def watch(self, task_id: str, peer: bytes | None) -> None:
        """``peer`` (None: this process) wants the result of a task still in the ledger."""
        self._watchers.setdefault(task_id, set()).add(peer)

    def look_up(
        self,
        peer: bytes,
        task_ids: list[str],
        found: Callable[[bytes, list[ResultMsg]], Awaitable[None]],
    ) -> None:
        """Ask the store for finished tasks ``peer`` fetched; ``found`` gets those it has."""

        async def ask() -> None:
            results = [await self._store.ask(Peek(task_id)) for task_id in task_ids]
            await found(peer, [r for r in results if r is not None])

        lookup = asyncio.get_running_loop().create_task(ask())
        self._lookups.add(lookup)
        lookup.add_done_callback(self._lookups.discard)

    def unwatch(self, task_id: str) -> None:
        """The task ended without a result to deliver."""
        self._watchers.pop(task_id, None)

    def flush(self, send: Callable[[bytes, Forward], None]) -> None:
        """Send what gathered: one ``Put`` to the store, one ``Forward`` per peer."""
        if self._local:
            self._store.tell_nowait(Put(self._local))
            self._local = []
        if self._local_progress:
            self._store.tell_nowait(PutProgress(self._local_progress))
            self._local_progress = []
        if self._forwards or self._forward_progress:
            forwards, self._forwards = self._forwards, {}
            progress, self._forward_progress = self._forward_progress, {}
            for peer in forwards.keys() | progress.keys():
                send(peer, Forward(forwards.get(peer, []), progress.get(peer, [])))
