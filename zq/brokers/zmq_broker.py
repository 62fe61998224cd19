"""``ZeroMQBroker``: the producer embeds a dispatcher; workers connect to it. No broker to run."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Mapping

from zq.abc.broker import AsyncBroker, ShutdownReport
from zq.actors.admission import Admission
from zq.actors.base import Actor
from zq.actors.dispatcher import Dispatcher
from zq.actors.ports import TaskPort, current_port
from zq.actors.results import ResultStore
from zq.actors.submitter import Submitter
from zq.brokers import handover, lan
from zq.brokers.inprocess import InProcessWorkers, ShutdownSwitch
from zq.brokers.queries import DispatcherQueries
from zq.brokers.routes import QueueRoutes, check_routes, merged
from zq.core.endpoints import check_endpoint
from zq.core.limits import task_overhead, task_too_large
from zq.core.messages import ResultMsg, TaskMsg
from zq.exceptions import (
    ActorDeadError,
    AddressInUseError,
    AddressNotLocalError,
    MessageTooLargeError,
    SecurityConfigError,
    SendTaskError,
)
from zq.result_backends.embedded import EmbeddedResultBackend, store_results
from zq.storage.journal import Journal
from zq.transport.curve import CurveSettings
from zq.transport.discovery import require as require_discovery
from zq.transport.sockets import DEFAULT_HANDSHAKE_TIMEOUT_S, DEFAULT_MAX_MSG_SIZE, SocketConfig

log = logging.getLogger("zq.broker")


class ZeroMQBroker(QueueRoutes, DispatcherQueries, InProcessWorkers, AsyncBroker):
    """A broker whose queue is a dispatcher embedded in the process that kicks tasks.

    The first producer to start on ``address`` binds it; another producer (another process of
    the app, a script, the scheduler) that finds it taken joins that dispatcher and gets its own
    results back. Workers (``zq worker app:broker``) connect to ``address``.

    ``address`` may end in ``:*`` to bind a free port; ``endpoint`` then gives the one bound.

    **Security.** Without CURVE, bind only loopback addresses (the default), or a network you
    trust: binding another address logs a warning. CURVE is on when this process has a key
    (``curve_key``, a ``.key_secret`` file from ``zq keys generate``): then only clients whose
    public key is in ``curve_workers`` (a directory of ``.key`` files; they may take tasks),
    ``curve_producers`` (they may only submit) or ``curve_observers`` (they may only read) can
    connect, and this process's own key is always allowed. A process that connects (a worker,
    a joined producer) checks the dispatcher against ``curve_server_key`` (a ``.key`` file or
    Z85 text; default: its own public key). Each ``curve_*`` argument defaults to its
    ``ZQ_CURVE_*`` environment variable, and ``zq worker --curve-*`` overrides them in workers.

    ``max_msg_size`` bounds every frame (a peer sending more is disconnected): ``kiq()`` of a
    task over it raises ``MessageTooLargeError``, and a result over it becomes an error.
    ``handshake_timeout_s`` closes connections that have not completed their handshake, or
    that have not said hello within that time after it. ``max_connections`` bounds the
    connections a dispatcher keeps (default: half the process's file-descriptor limit, at most
    4096); one over it is closed at once.

    **Task history**: the dispatcher keeps the last ``history`` finished tasks (their runs,
    workers, errors and log lines: ``task_info``, ``zq task show``; 0 keeps none); with a
    journal they are also written to it and survive a restart, for ``history_retention_s``.

    **When this process stops** (``shutdown()``, leaving ``async with``) it passes on what it
    holds (``zq.brokers.handover``): without a journal, the dispatcher keeps serving until its
    tasks have run and their results reached their callers, for up to
    ``shutdown_timeout_s`` (at once if no worker is connected); with a journal they stay on
    disk for the next start; a joined producer waits for its results. ``shutdown()`` returns
    a ``ShutdownReport``; tasks nothing holds any more are also logged at ERROR. When the
    process that bound the address leaves (or crashes), a joined process of the app on the
    same host binds it and carries on as the dispatcher (takeover).

    **On a LAN** (``zq.brokers.lan``): ``announce=True`` announces the dispatcher this process
    binds as ``app_name`` (default: the module that made the broker); ``discover=True`` joins
    one announced on the LAN before binding ``address``.

    **Queues on other dispatchers** (``zq.brokers.routes``): ``routes={"reports":
    "tcp://10.0.0.2:5556"}`` sends the ``reports`` queue's tasks to that dispatcher, every other
    queue to ``address``: an app splits its load over several dispatcher processes.
    """

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:5555",
        *,
        heartbeat_s: float = 1.0,
        liveness_timeout_s: float = 5.0,
        delivery_limit: int = 5,
        max_results: int = 100_000,
        result_ttl_s: float = 3600.0,
        join_timeout_s: float = 5.0,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
        max_pending: int = 100_000,
        kiq_timeout_s: float | None = None,
        journal: str | None = None,
        journal_sync: str = "NORMAL",
        curve_key: str | os.PathLike[str] | None = None,
        curve_server_key: str | os.PathLike[str] | None = None,
        curve_workers: str | os.PathLike[str] | None = None,
        curve_producers: str | os.PathLike[str] | None = None,
        curve_observers: str | os.PathLike[str] | None = None,
        handshake_timeout_s: float = DEFAULT_HANDSHAKE_TIMEOUT_S,
        max_connections: int | None = None,
        shutdown_timeout_s: float = 30.0,
        history: int = 10_000,
        history_retention_s: float = 86400.0,
        app_name: str | None = None,
        announce: bool = False,
        discover: bool = False,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.app_name = app_name or lan.default_app_name()
        if announce or discover:
            require_discovery()  # python-zeroconf missing: say so here, not in the background
        self.announce, self.discover = announce, discover
        self._presence = lan.Presence(self.app_name)
        if shutdown_timeout_s < 0:
            raise ValueError(f"shutdown_timeout_s must not be negative, not {shutdown_timeout_s}")
        self.shutdown_timeout_s = shutdown_timeout_s
        check_endpoint(address, bind=True)  # a typo fails here, not as a silent worker
        self.routes = check_routes(routes, address)
        self._init_routes()
        if max_msg_size < 1024:
            raise ValueError(f"max_msg_size {max_msg_size} is too small (at least 1024 bytes)")
        self.curve = CurveSettings.resolve(
            key=curve_key, server_key=curve_server_key, workers=curve_workers,
            producers=curve_producers, observers=curve_observers,
        )  # fmt: skip
        self.handshake_timeout_s = handshake_timeout_s
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self.max_connections = max_connections
        if history < 0 or history_retention_s < 0:
            raise ValueError("history and history_retention_s must not be negative")
        self.history, self.history_retention_s = history, history_retention_s
        self.journal = journal
        self.journal_sync = journal_sync
        self.max_pending = max_pending
        self.kiq_timeout_s = kiq_timeout_s
        self.address = address
        self.heartbeat_s = heartbeat_s
        self.liveness_timeout_s = liveness_timeout_s
        self.delivery_limit = delivery_limit
        self.max_results = max_results
        self.result_ttl_s = result_ttl_s
        self.join_timeout_s = join_timeout_s
        self.max_msg_size = max_msg_size
        self._socket_config: SocketConfig | None = None
        self.endpoint = address
        self.dispatcher: Dispatcher | None = None
        self._store: ResultStore | None = None
        self._sink: Dispatcher | Submitter | None = None
        self._worker_port: TaskPort | None = None  # in a worker: kicks outside any task
        self._worker_store: ResultStore | None = None  # in a worker: made before it starts
        self._saving: set[asyncio.Task[None]] = set()
        self._takeover: asyncio.Task[None] | None = None
        self._stop_by: float | None = None  # shutdown began: a takeover must end by then
        self.may_join = True  # False: bind or fail (``zq dispatcher``), never join
        self.shutdown_switch = ShutdownSwitch()

    async def startup(self) -> None:
        """Start the store and dispatcher (or join one), then the event handlers and middlewares.

        The dispatcher binds ``address``, or, if it is taken, joins the dispatcher there.

        In a worker process (``is_worker_process``) only the result store starts (for results
        of tasks kicked from tasks); the worker attaches its executor.
        """
        if self._store is None:
            await self._start_actors()
        await super().startup()

    def _new_store(self) -> ResultStore:
        listener = self._arrived if self.custom_result_backend or self.routes else None
        return ResultStore(self.max_results, self.result_ttl_s, listener=listener)

    def _arrived(self, results: list[ResultMsg]) -> None:
        if self.routes:
            self._routed_results(results)
        if self.custom_result_backend:
            self._save_elsewhere(results)

    async def _start_actors(self) -> None:
        store, self._worker_store = self._worker_store or self._new_store(), None
        await store.start()
        self._store = store
        if self.is_worker_process:
            if not self.custom_result_backend:
                self.result_backend = EmbeddedResultBackend(
                    store, self.serializer, report=self._report
                )
            return
        if not self.custom_result_backend:
            self.result_backend = EmbeddedResultBackend(store, self.serializer, fetch=self._fetch)
        try:
            sink = await self._bind_or_join(store)
        except BaseException:
            await store.stop()
            self._store = None
            raise
        self._stop_by = None
        self._install(sink)
        if self.routes:
            try:
                await self._start_routes(store)
            except BaseException:  # (a route's address refused us): nothing half-started
                await self._drain()
                await store.stop()
                self._store = None
                raise
        store.check_live = self._check_live
        await self._presence.announced()  # once started, a worker that browses finds it

    def _install(self, sink: Dispatcher | Submitter) -> None:
        """Make ``sink`` the one this process kicks into (at start-up, or on a takeover)."""
        sink.watch(self._sink_died)
        sink.admission.timeout_s = self.kiq_timeout_s
        self._sink = sink
        if self._store is not None:  # stream readers' positions, for the executors
            self._store.streams.report = self._report_reads
        if isinstance(sink, Dispatcher):
            self.dispatcher = sink
            self.endpoint = sink.endpoint
            self._bound_event().set()
            if self.announce:
                curve = self.socket_config().curve
                self._presence.announce(sink.endpoint, curve.public if curve else None)
        else:
            sink.on_orphaned = self._orphaned

    def _orphaned(self, _why: str) -> None:
        """The dispatcher this process joined left: bind the address or join the next one.

        Also while this process stops: its unfinished tasks need the next dispatcher too.
        """
        if self._takeover is None:
            self._takeover = asyncio.get_running_loop().create_task(self._take_over())

    def _give_up(self, old: Submitter) -> bool:
        """Whether a takeover from ``old`` is over: done, or out of time while stopping."""
        late = self._stop_by is not None and asyncio.get_running_loop().time() > self._stop_by
        return self._sink is not old or late

    async def _take_over(self) -> None:
        old, store = self._sink, self._store
        assert isinstance(old, Submitter) and store is not None
        try:
            await handover.take_over(
                old,
                lambda: self._bind_or_join(store, quiet=True),
                self._install,
                lambda: self._give_up(old),
                min(self.heartbeat_s, 0.2),
            )
        finally:
            self._takeover = None

    async def _bind_or_join(
        self, store: ResultStore, *, quiet: bool = False, address: str | None = None
    ) -> Dispatcher | Submitter:
        """Bind a dispatcher at ``address`` (default: the broker's), or join the one there.

        The one place that chooses; what joining means is in ``Submitter``.
        """
        config = self.socket_config()
        address = address or self.address
        if self.discover and address == self.address and not quiet:  # (a takeover: below)
            curve = config.curve
            joined = await self._presence.join(
                min(self.join_timeout_s, 2.0),
                curve.server if curve else None,
                lambda found: self._submitter(found, store, timeout_s=2.0),
                quiet=quiet,
            )
            if joined is not None:
                return joined
        dispatcher = Dispatcher(
            address,
            store,
            heartbeat_s=self.heartbeat_s,
            liveness_timeout_s=self.liveness_timeout_s,
            delivery_limit=self.delivery_limit,
            config=config,
            allow=self.curve.allow_list(config.curve.public)
            if self.curve and config.curve
            else None,
            max_pending=self.max_pending,
            journal=Journal(self.journal, self.journal_sync, self.history_retention_s)
            if self.journal
            else None,
            result_ttl_s=self.result_ttl_s,
            max_connections=self.max_connections,
            history=self.history,
        )
        try:
            await dispatcher.start()
        except AddressInUseError as exc:  # or of another host (AddressNotLocalError): join
            if not self.may_join:
                why = "" if isinstance(exc, AddressNotLocalError) else " (by another process)"
                raise type(exc)(f"{exc}{why}: zq dispatcher binds, it does not join") from None
            # on a takeover: a dispatcher that is up answers at once; retried anyway
            submitter = self._submitter(
                address, store, timeout_s=0.5 if quiet else self.join_timeout_s
            )
            await submitter.start()
            if quiet:
                return submitter
            log.info("joined the dispatcher already bound to %s", address)
            if self.journal:
                log.warning(
                    "journal %s is not used: this process joined the dispatcher at %s, whose "
                    "process journals its tasks; this one keeps its unfinished tasks in memory "
                    "and submits them again if that dispatcher restarts",
                    self.journal,
                    address,
                )
            return submitter
        if not quiet:
            log.info(
                "dispatcher bound to %s; %s", dispatcher.endpoint, dispatcher.records.guarantee()
            )
        return dispatcher

    def _submitter(self, address: str, store: ResultStore, *, timeout_s: float) -> Submitter:
        return Submitter(
            address,
            store,
            join_timeout_s=min(self.join_timeout_s, timeout_s),
            heartbeat_s=self.heartbeat_s,
            liveness_timeout_s=self.liveness_timeout_s,
            config=self.socket_config(),
            max_pending=self.max_pending,
        )

    def use_curve(self, **settings: str) -> None:
        """Replace some CURVE settings (``key``, ``server_key``, ``workers``, ``producers``...).

        What ``zq worker --curve-*`` does, before the broker starts: the others are kept.
        """
        merged = {**(dataclasses.asdict(self.curve) if self.curve else {}), **settings}
        if not merged.get("key"):
            raise SecurityConfigError("CURVE settings without a key of this process (--curve-key)")
        self.curve = CurveSettings(**merged)
        self._socket_config = None

    def socket_config(self) -> SocketConfig:
        """How this process's sockets are set up; reads the CURVE key files the first time.

        Raises ``SecurityConfigError`` if a key file is missing or wrong.
        """
        if self._socket_config is None:
            keys = self.curve.load() if self.curve is not None else None
            self._socket_config = SocketConfig(self.max_msg_size, self.handshake_timeout_s, keys)
        return self._socket_config

    def _sink_died(self, actor: Actor, error: BaseException | None) -> None:
        assert isinstance(actor, Dispatcher | Submitter)
        # kiq() calls waiting for room, and later ones, fail at once instead of hanging.
        why = f"crashed: {error!r}" if error is not None else "was stopped"
        actor.admission.close(ActorDeadError(f"the {actor.name} of {self.address} {why}"))
        if error is None or self._store is None or not self._store.alive:
            return
        # Without a journal, what the dispatcher held is gone: fail the waiters, never hang them.
        self._store.fail_waiters(SendTaskError(f"the {actor.name} crashed: {error!r}"))

    async def shutdown(self) -> ShutdownReport:
        """Run the shutdown handlers, pass on what this process holds, stop; report.

        See "When this process stops" above: the ``ShutdownReport`` lists the tasks not run.
        """
        report = await super().shutdown()
        if self._store is not None:
            await self._store.stop()
            self._store = None
        self._worker_port = None
        return report

    async def _drain(self) -> ShutdownReport:
        report = await self._drain_sink()
        if self.routes:
            assert self._stop_by is not None
            report = merged([report, await self._drain_routes(self._stop_by)])
        await self._presence.withdraw()  # only now: workers serve its last tasks until then
        # Results that arrived meanwhile are stored in a plugged backend before it shuts down.
        if self._saving:
            await asyncio.gather(*self._saving, return_exceptions=True)
        return report

    async def _drain_sink(self) -> ShutdownReport:
        loop = asyncio.get_running_loop()
        self._stop_by = stop_by = loop.time() + self.shutdown_timeout_s
        while True:  # a joined producer follows a takeover, then waits for its results
            if self._takeover is not None:
                await asyncio.gather(self._takeover, return_exceptions=True)
            sink = self._sink
            if not isinstance(sink, Submitter) or not sink.alive or sink.orphaned is not None:
                break
            await handover.settle(sink, stop_by - loop.time())
            if sink.orphaned is None or loop.time() >= stop_by:
                break
        self._sink = self.dispatcher = None
        self._bound_event().clear()
        if sink is None:
            return ShutdownReport()
        return await handover.drain(sink, max(0.0, stop_by - loop.time()))

    def forget_result(self, task_id: str, keep_for: float | None = None) -> None:
        """Drop this process's stored result of ``task_id`` (a new run of that id follows)."""
        age = self._store.stored_for(task_id) if self._store is not None else None
        if age is not None and (keep_for is None or age >= keep_for):
            assert self._store is not None
            self._store.forget([task_id])

    async def kick(self, message: TaskMsg) -> None:
        """Hand the task to the dispatcher.

        Waits while the dispatcher holds ``max_pending`` waiting tasks, and raises
        ``QueueFullError`` if that lasts over ``kiq_timeout_s``. In a worker, the task goes to
        the dispatcher that leased the running task (or the first one).
        """
        admission = self.admission()
        if self.routes and current_port.get() is None:  # (admission() is None then)
            routed = self._route_sink(message) or self._sink
            admission = routed.admission if routed is not None else None
        if admission is not None:
            await admission.enter()
        await self.kick_admitted(message)

    def admission(self) -> Admission | None:
        """The bound a kick from here waits on: the dispatcher's, or a joined producer's.

        None inside a running task: its kicks go through its executor.
        """
        sink = self._sink
        if sink is None or current_port.get() is not None or self.routes:
            return None  # (with routes, ``kick`` takes the place: it needs the message's queue)
        return sink.admission

    async def kick_admitted(self, message: TaskMsg) -> None:
        """``kick`` for a task that already has its place in ``admission()`` (``kiq()``)."""
        sink, port = self._sink, current_port.get()  # as admission() says, without the call
        if self.routes and port is None:
            sink = self._route_for(message) or sink
        admission = sink.admission if sink is not None and port is None else None
        if len(message.payload) + task_overhead(message) > self.max_msg_size:
            if admission is not None:
                admission.leave()
            raise MessageTooLargeError(task_too_large(message, self.max_msg_size))
        if admission is not None and sink is not None:
            await sink.submit(message)  # with a journal: returns once the task is on disk
            return
        port = port or self._port()
        if port is None:
            raise SendTaskError(
                "the broker is not started: `await broker.startup()` or `async with broker:`"
            )
        await port.submit(message)

    def worker_store(self) -> ResultStore:
        """In a worker process, before ``startup``: the store it will start, for the executor.

        Results of tasks kicked from tasks arrive there (the executor puts them).
        """
        if self._store is not None:
            return self._store
        if self._worker_store is None:
            self._worker_store = self._new_store()
        return self._worker_store

    def _port(self) -> TaskPort | None:
        """In a worker: the running task's link, else the worker's own port."""
        return current_port.get() or self._worker_port

    async def _report(self, task_id: str, payload: bytes) -> None:
        port = self._port()
        if port is not None:
            await port.progress(task_id, payload)

    def _save_elsewhere(self, results: list[ResultMsg]) -> None:
        """With ``with_result_backend``: store each arriving result in that backend too."""
        saving = store_results(self.result_backend, self.serializer, results)
        task = asyncio.get_running_loop().create_task(saving)
        self._saving.add(task)
        task.add_done_callback(self._saving.discard)

    @property
    def result_store(self) -> ResultStore | None:
        """The result store of this process, while the broker is started."""
        return self._store
