"""What a process may ask its dispatcher: cancels, explanations, dead letters, stats.

zq extensions of ``ZeroMQBroker`` (a mixin, so that the broker's module stays about binding,
joining and kicking). Only the process that bound the address has a dispatcher to ask; any
process of the app may wait to become that one (``wait_bound``). Cancels go from any process
that bound or joined the address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from zq.actors.control import CancelTasks, Explain
from zq.actors.dispatcher import Dispatcher
from zq.actors.dispatcher_api import (
    DeadLetterInfo,
    GetDeadLetters,
    GetStats,
    PeerInfo,
    PurgeDeadLetters,
    ReplayDeadLetters,
    WaitUntil,
)
from zq.actors.inspection import Inspect
from zq.actors.observer import Observer
from zq.actors.ports import TaskPort
from zq.actors.submitter import Submitter
from zq.core.messages import CancelOutcome
from zq.exceptions import SendTaskError
from zq.transport.sockets import SocketConfig

CANCEL_TIMEOUT_S = 10.0  # how long a joined process waits for the dispatcher to answer


class DispatcherQueries:
    """Asks to ``self.dispatcher`` (None in a process that joined, or before start-up)."""

    dispatcher: Dispatcher | None
    address: str
    is_worker_process: bool
    _sink: Dispatcher | Submitter | None
    _port: Callable[[], TaskPort | None]
    socket_config: Callable[[], SocketConfig]
    routes: dict[str, str]
    _cancel_routed: Callable[[list[str], list[CancelOutcome]], Awaitable[list[CancelOutcome]]]
    _bound: asyncio.Event | None = None  # set while this process has the dispatcher

    def _bound_event(self) -> asyncio.Event:
        if self._bound is None:
            self._bound = asyncio.Event()
        return self._bound

    async def wait_bound(self) -> Dispatcher:
        """Wait until this process serves the address; returns its dispatcher.

        It bound the address at start, or took it over when the process that had bound it left.
        """
        await self._bound_event().wait()
        assert self.dispatcher is not None
        return self.dispatcher

    async def cancel_many(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Cancel tasks, from the process that bound the address or one that joined it.

        One outcome per id (see ``AsyncBroker.cancel``). In a worker process (a task cancelling
        another) it goes through the worker's link to its dispatcher. With ``routes``, the ids
        the main dispatcher does not know go to the routed ones.
        """
        outcomes = await self._cancel_here(task_ids)
        if self.routes and not self.is_worker_process:
            outcomes = await self._cancel_routed(task_ids, list(outcomes))
        return outcomes

    async def _cancel_here(self, task_ids: list[str]) -> list[CancelOutcome]:
        sink = self._sink
        if isinstance(sink, Dispatcher):
            # (with a journal, answered once the cancel is on disk)
            outcomes: list[CancelOutcome] = await sink.ask(CancelTasks(list(task_ids)))
            return outcomes
        port = self._port() if self.is_worker_process else None
        if port is not None:
            asking = port.cancel(list(task_ids))
        elif sink is not None:
            asking = sink.cancel(list(task_ids))
        else:
            raise SendTaskError("cancel needs a started broker (it bound or joined the address)")
        try:
            return await asyncio.wait_for(asking, CANCEL_TIMEOUT_S)
        except TimeoutError:
            raise SendTaskError(
                f"the dispatcher at {self.address} did not answer the cancel within "
                f"{CANCEL_TIMEOUT_S:g}s; the tasks may or may not be cancelled"
            ) from None

    async def explain(self, task_id: str) -> str:
        """Where a task is and why it has not finished, in one line (this process's dispatcher).

        For example ``queued behind 12 task(s) in queue 'default'``, ``rate-limited until
        12:00:03``, ``concurrency key 'acct-1' at its limit (1 running, max 1)``, ``no connected
        worker has task 'app:send' registered``, ``running on worker pid 812 on host-a since
        12:00:01``, ``dead-lettered: ...``, ``finished``.
        """
        answer: str = await self._own_dispatcher().ask(Explain(task_id))
        return answer

    async def metrics(self) -> dict[str, Any]:
        """Queue depths and counts of this process's dispatcher ({} if it has none).

        ``pending`` (tasks waiting, per queue), ``delayed``, ``running`` (leased to workers),
        ``workers`` (executor processes), ``dead_letters`` (held now), and the counters
        ``submitted``, ``completed``, ``dead_lettered``, ``cancelled`` (since it started).
        """
        if self.dispatcher is None:
            return {}
        status = await self.dispatcher.ask(Inspect("status"))
        totals, counters = status["totals"], status["counters"]
        return {
            "pending": {q: sum(c["pending"].values()) for q, c in status["queues"].items()},
            "delayed": totals["delayed"],
            "running": totals["running"],
            "workers": len(status["workers"]),
            "dead_letters": totals["dead_letters"],
            **{k: counters[k] for k in ("submitted", "completed", "dead_lettered", "cancelled")},
        }

    async def dead_letters(self) -> list[DeadLetterInfo]:
        """Tasks this dispatcher took out of circulation, with the reason (oldest first)."""
        if self.dispatcher is None:
            return []
        result: list[DeadLetterInfo] = await self.dispatcher.ask(GetDeadLetters())
        return result

    async def replay_dead_letters(self, task_ids: list[str] | None = None) -> list[str]:
        """Put dead letters (these ids, or all) back in their queues; returns the ids replayed.

        Each runs again under its own id with a fresh delivery count, and its new result
        replaces the error in this process's store (``wait_result`` on the id sees it).
        """
        result: list[str] = await self._own_dispatcher().ask(ReplayDeadLetters(task_ids))
        return result

    async def purge_dead_letters(self, task_ids: list[str] | None = None) -> int:
        """Forget dead letters (these ids, or all); returns how many were dropped."""
        result: int = await self._own_dispatcher().ask(PurgeDeadLetters(task_ids))
        return result

    async def workers_for(self, task_name: str, queue: str = "default") -> list[PeerInfo]:
        """The executors connected now that would run ``task_name`` from ``queue``.

        A task no worker registered waits in the dispatcher (it is never sent to be
        rejected); an empty list here tells its caller that nothing serves it yet.
        """
        stats = await self._own_dispatcher().ask(GetStats())
        executors: dict[bytes, PeerInfo] = stats["executors"]
        return [
            info
            for info in executors.values()
            if task_name in info.tasks and (not info.queues or queue in info.queues)
        ]

    def _own_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise SendTaskError("only the process that bound the address has the dispatcher")
        return self.dispatcher

    async def wait_workers(self, count: int = 1) -> int:
        """Wait until at least ``count`` executor processes have joined this dispatcher.

        Only in the process that bound the address. Returns how many are connected.
        """
        snapshot = await self.wait_until(lambda s: len(s["executors"]) >= count)
        return len(snapshot["executors"])

    async def wait_until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Wait until ``predicate`` holds for this dispatcher's ``stats()``; return them.

        Checked after each batch the dispatcher handles, so nothing polls. Only in the process
        that bound the address.
        """
        result: dict[str, Any] = await self._own_dispatcher().ask(WaitUntil(predicate))
        return result

    async def task_info(self, task_id: str, *, args: bool = False) -> dict[str, Any] | None:
        """What the dispatcher knows of one task, or None: its state, runs, errors, log lines.

        A running or waiting task, or one of the last finished ones (``history``). ``args``:
        include its encoded arguments (they may be private). The schema is
        ``docs/observing.md``'s. From any process of the app (a joined one asks as an observer).
        """
        found: dict[str, Any] | None = await self.inspect("task", id=task_id, args=args)
        return found

    async def task_history(
        self,
        state: str | None = None,
        name: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Finished tasks, newest first: by state, task name, and end time (a Unix time)."""
        found: list[dict[str, Any]] = await self.inspect(
            "tasks", state=state, name=name, since=since, limit=limit
        )
        return found

    async def inspect(self, what: str, **args: Any) -> Any:
        """The dispatcher's answer to an observer's question (``zq.actors.inspection``)."""
        if self.dispatcher is not None:
            return await self.dispatcher.ask(Inspect(what, args))
        async with Observer(self.address, self.socket_config(), CANCEL_TIMEOUT_S) as observer:
            return await observer.ask(what, **args)

    async def stats(self) -> dict[str, Any]:
        """Queue sizes, connected executors and counters of this process's dispatcher."""
        if self.dispatcher is None:
            return {}
        result: dict[str, Any] = await self.dispatcher.ask(GetStats())
        return result
