"""One worker child process: import the app, run an Executor until told to stop.

Started by the supervisor as ``python -m zq.worker CONFIG_JSON`` (a fresh interpreter: no
ZeroMQ context or event loop is inherited). It ignores SIGINT and SIGHUP (a terminal sends
those to the whole process group; the supervisor decides) and obeys SIGTERM: the first drains
(prefetched tasks handed back at once, running ones finish), a second cancels the running
tasks and hands them back. It reports to the supervisor over a pipe (``Report`` lines): ready,
spent (``--max-tasks-per-child`` reached), draining, stopped. If the supervisor vanishes, it
notices and drains, so no orphan keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
from collections.abc import Callable

import msgspec

from zq.abc.broker import AsyncBroker
from zq.actors.executor import Executor
from zq.brokers.inprocess import build_executor
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.core.worker_policy import jittered
from zq.exceptions import PeerRefusedError, SecurityConfigError
from zq.receiver import Receiver, task_logs
from zq.transport.names import each_dispatcher
from zq.worker.child_state import BEAT_S, ChildState
from zq.worker.config import EXIT_CONFIG, Report, WorkerConfig, configure_logging
from zq.worker.lan import Discovered
from zq.worker.listener import serve_listener
from zq.worker.loader import (
    AppLoadError,
    discover,
    import_modules,
    load_broker,
    load_object,
    receiver_kwargs,
)
from zq.worker.process_pool import AppProcessPool

log = logging.getLogger("zq.worker")


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``kind`` ("asyncio" or "uvloop")."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


_FORKED = False  # set in a copy of this process made by a task's os.fork()


def _reporter(fd: int) -> Callable[[Report], None]:
    def report(line: Report) -> None:
        if fd >= 0 and not _FORKED:  # a task's forked copy must not speak for this process
            # If the supervisor is gone the write fails; the parent watch stops us.
            with contextlib.suppress(OSError):
                os.write(fd, msgspec.json.encode(line) + b"\n")

    return report


def build_receiver(broker: AsyncBroker, config: WorkerConfig, modules: list[str]) -> Receiver:
    """The receiver ``config`` asks for (``--receiver``, ``--receiver_arg``), with its pools."""
    cls: type[Receiver] = Receiver
    if config.receiver:
        found = load_object(config.receiver, config.app_dir)
        if not (isinstance(found, type) and issubclass(found, Receiver)):
            raise AppLoadError(f"--receiver {config.receiver} is not a zq Receiver subclass")
        cls = found
    extra = receiver_kwargs(cls, config.receiver_args)
    pool = None
    if config.use_process_pool:
        pool = AppProcessPool(
            config.app, modules, config.app_dir, config.max_process_pool_processes
        )
    return cls(
        broker,
        config.max_threadpool_threads,
        validate_params=config.parse_params,
        propagate_exceptions=config.propagate_errors,
        ack_type=config.ack_type,
        process_pool=pool,
        capture_logs=config.capture_logs,
        **extra,
    )


async def serve(config: WorkerConfig) -> int:
    """Run one executor until SIGTERM or until the parent process goes away."""
    report = _reporter(config.control_fd)
    broker, modules = _load_app(config)
    if broker.listens():  # a broker of the app's own, with taskiq's contract
        return await _serve_listening(config, broker, modules, report)
    addresses, lan = await _dispatchers(config, broker, report)
    receiver = build_receiver(broker, config, modules)
    executor = _executor(config, broker, receiver, addresses)
    executor.on_spent = lambda: report(Report(event="spent"))
    receiver.on_stuck = _replace_when_stuck(receiver, report, config.index)
    loop = asyncio.get_running_loop()
    state = ChildState(config.state_path) if config.state_path else None
    if state is not None:
        _share_state(loop, executor, state)
    os.register_at_fork(after_in_child=lambda: _disown(executor, state))
    stop, cancel = asyncio.Event(), asyncio.Event()

    def on_sigusr1() -> None:  # cancel the running tasks (and stop, if not stopping yet)
        stop.set()
        cancel.set()

    # Before the start-up handlers run: a SIGTERM from then on must reach their shutdown
    # counterparts too (by default it would end the process in the middle of starting).
    # SIGTERM only ever drains: a service manager that signals the whole process group sends
    # one besides the supervisor's, and two SIGTERMs sent at once may arrive as one. The
    # supervisor asks for a cancel with SIGUSR1.
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, on_sigusr1)
    await broker.startup()  # WORKER_STARTUP handlers may kick: the executor queues those
    await executor.start()
    executor.watch(lambda _actor, _error: stop.set())
    _watch_parent(loop, stop, config.index)
    joined = loop.create_task(executor.wait_joined(10.0))
    await asyncio.wait({joined, loop.create_task(stop.wait())}, return_when="FIRST_COMPLETED")
    if isinstance(executor.crash, PeerRefusedError):  # a wrong key or version: no retrying
        log.critical("worker %d: %s", config.index, executor.crash)
        await broker.shutdown()
        return EXIT_CONFIG
    tasks = sorted(broker.get_all_tasks())
    ready = Report(event="ready", tasks=tasks, queues=config.queues, addresses=addresses)
    ready.limit = executor.max_async_tasks
    report(ready)
    await stop.wait()
    report(Report(event="draining", count=executor.running + executor.prefetched))
    if lan is not None:
        await lan.stop()
    if executor.alive:
        await _drain(executor, cancel, config)
    try:
        await asyncio.wait_for(broker.shutdown(), config.shutdown_timeout_s)
    except TimeoutError:
        log.warning("worker %d: broker shutdown timed out", config.index)
    report(Report(event="stopped", count=executor.tasks_run))
    code = 1 if executor.crash is not None else 0
    if receiver.abandoned:  # the interpreter would wait for them at exit, maybe forever
        log.warning(
            "worker %d: exiting without waiting for %d sync task thread(s) past their timeout",
            config.index,
            receiver.abandoned,
        )
        logging.shutdown()
        os._exit(code)
    return code


def _use_curve(config: WorkerConfig, broker: AsyncBroker) -> None:
    """``--curve-*`` given: they replace the broker's CURVE settings."""
    if config.curve:
        if not isinstance(broker, ZeroMQBroker):
            raise AppLoadError(
                f"--curve-* options need a ZeroMQBroker, not {type(broker).__name__}"
            )
        broker.use_curve(**config.curve)


async def _dispatchers(
    config: WorkerConfig, broker: AsyncBroker, report: Callable[[Report], None]
) -> tuple[list[str], Discovered | None]:
    """The addresses to join, CURVE set up for them; with ``--discover``, what follows the LAN.

    ``--discover``: the app's dispatchers announced on the LAN (``zq.worker.lan``), changes
    reported to the supervisor.
    """
    _use_curve(config, broker)
    if not config.discover:
        return _addresses(config, broker, []), None
    if not isinstance(broker, ZeroMQBroker):
        raise AppLoadError(f"--discover needs a ZeroMQBroker, not {type(broker).__name__}")
    lan = Discovered(broker, config.index)
    found = await lan.first()
    lan.follow(lambda now: report(Report(event="dispatchers", addresses=now)))
    return _addresses(config, broker, found), lan


def _addresses(config: WorkerConfig, broker: AsyncBroker, found: list[str]) -> list[str]:
    """The dispatchers to join: ``--connect`` and those discovered, else the broker's."""
    addresses = [*config.connect, *found]
    if not addresses:  # the app's: its address, and those of routed queues it serves
        own = [getattr(broker, "endpoint", "")]
        addresses = (
            broker.dispatcher_addresses(config.queues) if isinstance(broker, ZeroMQBroker) else own
        )
    if not addresses[0]:
        raise SystemExit(f"{config.app} has no address: pass --connect")
    addresses = list(dict.fromkeys(a for given in addresses for a in each_dispatcher(given)))
    if len(addresses) > config.max_async_tasks + config.max_prefetch:
        raise SystemExit(
            f"{len(addresses)} dispatchers ({', '.join(addresses)}) share this process's "
            "slots evenly and each needs one: raise --max-async-tasks"
        )
    return addresses


async def _serve_listening(
    config: WorkerConfig, broker: AsyncBroker, modules: list[str], report: Callable[[Report], None]
) -> int:
    """Run what the broker's ``listen()`` yields until SIGTERM (``zq.worker.listener``)."""
    if config.connect or config.curve:
        log.warning(
            "worker %d: %s gets its tasks from its own listen(): --connect and --curve-* "
            "are ignored",
            config.index,
            type(broker).__name__,
        )
    receiver = build_receiver(broker, config, modules)
    limit = jittered(config.max_async_tasks, config.max_async_tasks_jitter, random.random())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, stop.set)  # a listener drains: nothing to cancel
    await broker.startup()
    _watch_parent(loop, stop, config.index)
    source = f"{type(broker).__name__}.listen()"
    ready = Report(event="ready", tasks=sorted(broker.get_all_tasks()), addresses=[source])
    ready.limit = limit
    report(ready)
    listener = await serve_listener(broker, receiver, limit, stop, config.wait_tasks_timeout_s)
    report(Report(event="draining", count=len(listener.running)))
    try:
        await asyncio.wait_for(broker.shutdown(), config.shutdown_timeout_s)
    except TimeoutError:
        log.warning("worker %d: broker shutdown timed out", config.index)
    report(Report(event="stopped", count=listener.tasks_run))
    return 0


def _load_app(config: WorkerConfig) -> tuple[AsyncBroker, list[str]]:
    """Import the app's broker and its task modules; the broker knows it is in a worker."""
    broker = load_broker(config.app, config.app_dir)
    modules = list(config.modules)
    if config.fs_discover:
        modules += discover(config.app_dir or os.getcwd(), config.tasks_patterns)
    import_modules(modules, config.app_dir)
    broker.is_worker_process = True
    return broker, modules


def _replace_when_stuck(
    receiver: Receiver, report: Callable[[Report], None], index: int
) -> Callable[[], None]:
    def stuck() -> None:
        log.warning(
            "worker %d: %d sync task thread(s) run past their timeout: replacing this process",
            index,
            receiver.abandoned,
        )
        report(Report(event="spent"))

    return stuck


def _executor(
    config: WorkerConfig, broker: AsyncBroker, receiver: Receiver, addresses: list[str]
) -> Executor:
    limit = jittered(config.max_async_tasks, config.max_async_tasks_jitter, random.random())
    zmq_broker = broker if isinstance(broker, ZeroMQBroker) else None
    executor = build_executor(
        broker,
        receiver,
        addresses,
        max_async_tasks=limit,
        max_prefetch=config.max_prefetch,
        queues=config.queues,
        max_tasks=config.max_tasks_per_child,
        results=zmq_broker.worker_store() if zmq_broker is not None else None,
    )
    if zmq_broker is not None:  # kicks from outside any task go out through it
        zmq_broker.attach_port(executor.port)
    return executor


async def _drain(executor: Executor, cancel: asyncio.Event, config: WorkerConfig) -> None:
    """Drain, unless SIGUSR1 (``cancel``) comes first: then cancel and hand back."""
    loop = asyncio.get_running_loop()
    draining = loop.create_task(executor.drain(config.wait_tasks_timeout_s))
    cancelling = loop.create_task(cancel.wait())
    await asyncio.wait({draining, cancelling}, return_when=asyncio.FIRST_COMPLETED)
    if cancel.is_set() and not draining.done():
        log.warning("worker %d: cancelling %d running task(s)", config.index, executor.running)
        await executor.cancel_running()
    await draining
    cancelling.cancel()


def _disown(executor: Executor, state: ChildState | None) -> None:
    """In a copy of this process that a task made with ``os.fork()`` (which then went on).

    The copy shares the sockets, the report pipe and the page shared with the supervisor:
    it must use none of them. It stops at its first return to zq (``SlotPool.forked``); a task
    that forks to run code of its own (multiprocessing's ``fork``) exits before that.
    """
    global _FORKED  # noqa: PLW0603 - one flag for the whole copy of the process
    _FORKED = True
    executor.pool.forked = True
    if state is not None:
        state.detach()


def _share_state(loop: asyncio.AbstractEventLoop, executor: Executor, state: ChildState) -> None:
    """Beat the loop's heartbeat into the page shared with the supervisor; flag busy."""

    def beat() -> None:
        state.beat()
        loop.call_later(BEAT_S, beat)

    beat()
    executor.pool.on_busy = state.busy


def _watch_parent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, index: int) -> None:
    parent = os.getppid()

    def check() -> None:
        if os.getppid() != parent:
            log.warning("worker %d: supervisor gone; stopping", index)
            stop.set()
        else:
            loop.call_later(0.5, check)

    loop.call_later(0.5, check)


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker child process."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(
            "python -m zq.worker CONFIG_JSON is started by `zq worker`: run `zq worker APP`",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    config = msgspec.json.decode(argv[0], type=WorkerConfig)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    configure_logging(config)
    if config.capture_logs:
        task_logs.install(config.log_level.upper())
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
            return runner.run(serve(config))
    except (AppLoadError, SecurityConfigError) as exc:
        log.critical("worker %d: %s", config.index, exc)
        return EXIT_CONFIG
