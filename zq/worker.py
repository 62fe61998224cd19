"""One worker child process: import the app, run an Executor until told to stop.

Started by the supervisor as ``python -m zq.worker CONFIG_JSON`` (a fresh interpreter: no
ZeroMQ context or event loop is inherited). It ignores SIGINT (a terminal's Ctrl+C reaches the
whole process group; the supervisor decides) and drains on SIGTERM. If the supervisor vanishes,
it notices and drains too, so no orphan keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

import msgspec

from zq.actors.executor import Executor
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.loader import import_modules, load_broker
from zq.receiver import Receiver

log = logging.getLogger("zq.worker")


class WorkerConfig(msgspec.Struct, kw_only=True):
    """Everything a worker child needs, passed from the CLI through the supervisor."""

    app: str
    modules: list[str] = []
    app_dir: str | None = None
    connect: list[str] = []
    max_async_tasks: int = 100
    max_prefetch: int = 0
    max_threadpool_threads: int | None = None
    parse_params: bool = True
    propagate_errors: bool = True
    ack_type: str = "when_saved"
    wait_tasks_timeout_s: float | None = None
    log_level: str = "INFO"
    log_format: str = "[%(asctime)s][%(name)s][%(levelname)s][pid %(process)d] %(message)s"
    configure_logging: bool = True
    loop: str = "asyncio"  # "uvloop" is chosen by the CLI when available
    index: int = 0


def configure_logging(config: WorkerConfig) -> None:
    """Set up the root logger as the CLI was asked to."""
    if config.configure_logging:
        logging.basicConfig(
            level=config.log_level.upper(), format=config.log_format, stream=sys.stderr
        )


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``kind`` ("asyncio" or "uvloop")."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


async def serve(config: WorkerConfig) -> int:
    """Run one executor until SIGTERM or until the parent process goes away."""
    broker = load_broker(config.app, config.app_dir)
    import_modules(config.modules, config.app_dir)
    broker.is_worker_process = True
    addresses = config.connect or [getattr(broker, "endpoint", "")]
    if not addresses[0]:
        raise SystemExit(f"{config.app} has no address: pass --connect")
    receiver = Receiver(
        broker,
        config.max_threadpool_threads,
        validate_params=config.parse_params,
        propagate_exceptions=config.propagate_errors,
        ack_type=config.ack_type,
    )
    executor = Executor(
        receiver,
        addresses,
        max_async_tasks=config.max_async_tasks,
        max_prefetch=config.max_prefetch,
    )
    if isinstance(broker, ZeroMQBroker):  # the worker follows the app's liveness settings
        executor.heartbeat_s = broker.heartbeat_s
        executor.liveness_timeout_s = broker.liveness_timeout_s
        executor.max_msg_size = broker.max_msg_size
        broker.attach_executor(executor)
    await broker.startup()  # WORKER_STARTUP handlers may kick: the executor queues those
    await executor.start()
    log.info(
        "worker %d ready: %d task(s), dispatcher(s) %s",
        config.index,
        len(broker.get_all_tasks()),
        ", ".join(addresses),
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    executor.watch(lambda _actor, _error: stop.set())
    parent = os.getppid()

    def watch_parent() -> None:
        if os.getppid() != parent:
            log.warning("worker %d: supervisor gone; stopping", config.index)
            stop.set()
        else:
            loop.call_later(0.5, watch_parent)

    loop.call_later(0.5, watch_parent)
    await stop.wait()
    if executor.alive:
        await executor.drain(config.wait_tasks_timeout_s)
    await broker.shutdown()
    log.info("worker %d stopped after %d task(s)", config.index, executor.tasks_run)
    return 1 if executor.crash is not None else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker child process."""
    argv = sys.argv[1:] if argv is None else argv
    config = msgspec.json.decode(argv[0], type=WorkerConfig)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(config)
    with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
        return runner.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
