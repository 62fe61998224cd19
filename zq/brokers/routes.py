"""Queues routed to other dispatchers: ``ZeroMQBroker(routes={"reports": "tcp://b:5556"})``.

An app whose load outgrows one dispatcher process splits it by queue: each queue in ``routes``
goes to the dispatcher at its address, every other queue to the broker's own ``address``. The
map is static and every producer of the app uses the same one (it is in the broker's
definition). At start the broker binds or joins each route's address as it does its own (the
first process of the app to start there is that queue's dispatcher, or ``zq dispatcher``
serves it), with the same takeover when that dispatcher leaves. ``zq worker app:broker``
connects to the dispatchers of the queues it serves.

What goes where: a ``kiq()`` to its queue's dispatcher; a cancel to every dispatcher (each
says what it knows); the result store is shared, and a waiting caller's checks go to the
dispatcher its task went to. ``stats()``, dead letters, history and ``zq status`` are the
main dispatcher's (``zq status --connect`` a route's address shows that one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from zq.abc.broker import ShutdownReport
from zq.actors.base import Actor
from zq.actors.control import CancelTasks
from zq.actors.dispatcher import Dispatcher
from zq.actors.results import FetchResults, ResultStore
from zq.actors.submitter import Submitter
from zq.brokers import handover
from zq.core.endpoints import check_endpoint
from zq.core.messages import CancelOutcome, Read, ResultMsg, TaskMsg
from zq.exceptions import WouldBlock

log = logging.getLogger("zq.broker")

Sink = Dispatcher | Submitter


def check_routes(routes: Mapping[str, str] | None, address: str) -> dict[str, str]:
    """``routes`` checked where they are given: queue names, addresses; a copy."""
    table: dict[str, str] = {}
    for queue, where in (routes or {}).items():
        if not isinstance(queue, str) or not queue:
            raise ValueError(f"routes: {queue!r} is not a queue name")
        try:
            check_endpoint(where, bind=True)
        except ValueError as exc:
            raise ValueError(f"routes[{queue!r}]: {exc}") from None
        if where == address:
            raise ValueError(
                f"routes[{queue!r}] is the broker's own address {address}: every queue not in "
                "routes goes there already"
            )
        table[queue] = where
    return table


class QueueRoutes:
    """The ``routes`` part of ``ZeroMQBroker`` (a mixin; see the module's docstring)."""

    address: str
    endpoint: str
    routes: dict[str, str]
    heartbeat_s: float
    kiq_timeout_s: float | None
    _sink: Sink | None
    _store: ResultStore | None
    _stop_by: float | None

    if TYPE_CHECKING:

        async def _bind_or_join(
            self, store: ResultStore, *, quiet: bool = False, address: str | None = None
        ) -> Sink: ...

        def _sink_died(self, actor: Actor, error: BaseException | None) -> None: ...

    def _init_routes(self) -> None:
        self._route_sinks: dict[str, Sink] = {}  # by address
        self._route_of: dict[str, Sink] = {}  # a routed task's sink, until its result is here
        self._route_takeovers: dict[str, asyncio.Task[None]] = {}

    def dispatcher_addresses(self, queues: Iterable[str] = ()) -> list[str]:
        """The dispatchers a worker serving ``queues`` (none given: every queue) joins."""
        served = list(queues)
        if not served:
            return list(dict.fromkeys([self.endpoint, *self.routes.values()]))
        return list(dict.fromkeys(self.routes.get(queue, self.endpoint) for queue in served))

    def _route_sink(self, message: TaskMsg) -> Sink | None:
        """The sink of a routed queue's task, else None."""
        address = self.routes.get(message.queue)
        return None if address is None else self._route_sinks.get(address)

    def _route_for(self, message: TaskMsg) -> Sink | None:
        """``_route_sink``, remembered for the task's result (once it is handed over)."""
        sink = self._route_sink(message)
        if sink is not None:
            self._route_of[message.task_id] = sink
        return sink

    def _routed_results(self, results: list[ResultMsg]) -> None:
        for result in results:
            self._route_of.pop(result.task_id, None)

    def _check_live(self, task_ids: list[str]) -> None:
        """The store dropped results: the sink says which waited-for tasks are gone."""
        for sink, ids in self._sinks_of(task_ids, self._sink).items():
            if sink.alive:
                with contextlib.suppress(WouldBlock):  # a full mailbox: they wait, as before
                    sink.tell_nowait(FetchResults(ids))

    async def _fetch(self, task_ids: list[str]) -> None:
        for sink, ids in self._sinks_of(task_ids, self._sink).items():
            await sink.tell(FetchResults(ids))

    def _report_reads(self, acks: list[tuple[str, int]]) -> None:
        """Stream readers' positions, each to the dispatcher its task went to."""
        if not self.routes:
            if self._sink is not None:
                self._sink.tell_or_drop(Read(acks))
            return
        grouped = self._sinks_of([task_id for task_id, _ in acks], self._sink)
        for sink, ids in grouped.items():
            wanted = set(ids)
            sink.tell_or_drop(Read([ack for ack in acks if ack[0] in wanted]))

    def _sinks_of(self, task_ids: list[str], main: Sink | None) -> dict[Sink, list[str]]:
        """The tasks grouped by the sink each went to (the main one if not routed)."""
        if not self._route_of:  # no routed task in flight: all of them are the main sink's
            return {main: task_ids} if main is not None else {}
        grouped: dict[Sink, list[str]] = {}
        for task_id in task_ids:
            sink = self._route_of.get(task_id, main)
            if sink is not None:
                grouped.setdefault(sink, []).append(task_id)
        return grouped

    async def _start_routes(self, store: ResultStore) -> None:
        for address in dict.fromkeys(self.routes.values()):
            sink = await self._bind_or_join(store, address=address)
            self._install_route(address, sink)

    def _install_route(self, address: str, sink: Sink) -> None:
        sink.watch(self._sink_died)
        sink.admission.timeout_s = self.kiq_timeout_s
        self._route_sinks[address] = sink
        if isinstance(sink, Submitter):
            sink.on_orphaned = lambda _why: self._route_orphaned(address, sink)

    def _route_orphaned(self, address: str, old: Submitter) -> None:
        """A route's dispatcher left: bind its address or join the next one (as for ours)."""
        if address in self._route_takeovers or self._store is None:
            return
        store, loop = self._store, asyncio.get_running_loop()

        def moved(new: Sink) -> None:
            self._install_route(address, new)
            for task_id, sink in self._route_of.items():
                if sink is old:
                    self._route_of[task_id] = new

        def given_up() -> bool:
            late = self._stop_by is not None and loop.time() > self._stop_by
            return self._route_sinks.get(address) is not old or late

        takeover = handover.take_over(
            old,
            lambda: self._bind_or_join(store, quiet=True, address=address),
            moved,
            given_up,
            min(self.heartbeat_s, 0.2),
        )
        task = loop.create_task(takeover)
        self._route_takeovers[address] = task
        task.add_done_callback(lambda _task: self._route_takeovers.pop(address, None))

    async def _cancel_routed(
        self, task_ids: list[str], outcomes: list[CancelOutcome]
    ) -> list[CancelOutcome]:
        """Outcomes of the routed dispatchers for the ids the main one did not know."""
        for sink in self._route_sinks.values():
            unknown = [i for i, outcome in enumerate(outcomes) if outcome == "unknown"]
            if not unknown:
                break
            if isinstance(sink, Dispatcher):
                answers: list[CancelOutcome] = await sink.ask(
                    CancelTasks([task_ids[i] for i in unknown])
                )
            else:
                answers = await sink.cancel([task_ids[i] for i in unknown])
            for i, outcome in zip(unknown, answers, strict=True):
                outcomes[i] = outcome
        return outcomes

    async def _drain_routes(self, stop_by: float) -> ShutdownReport:
        """Pass on what the routes' sinks hold, as the main one does; one report for all."""
        loop = asyncio.get_running_loop()
        for task in list(self._route_takeovers.values()):
            await asyncio.gather(task, return_exceptions=True)
        reports = []
        sinks, self._route_sinks = self._route_sinks, {}
        for sink in sinks.values():
            reports.append(await handover.drain(sink, max(0.0, stop_by - loop.time())))
        self._route_of.clear()
        return merged(reports)


def merged(reports: list[ShutdownReport]) -> ShutdownReport:
    """One report for several sinks: lost if any part is (the ERROR lines said which)."""
    unfinished = tuple(task_id for report in reports for task_id in report.unfinished)
    if not unfinished:
        return ShutdownReport()
    kept = [report.kept_by for report in reports if report.unfinished]
    return ShutdownReport(unfinished, None if None in kept else "; ".join(map(str, kept)))
