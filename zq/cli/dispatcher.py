"""``zq dispatcher``: a standalone, long-lived dispatcher for producers that come and go.

Embedded, the queue lives in a process of the app; when producers are short-lived scripts or
many web processes, this gives it a process of its own: it binds the address and journals
every task (on by default), producers join it, workers connect to it. It is the same
dispatcher (nothing else to install), run without the app's tasks, handlers or middlewares.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import click

from zq.brokers.zmq_broker import ZeroMQBroker
from zq.cli.options import curve_options, curve_overrides, logging_options
from zq.core.endpoints import check_endpoint
from zq.exceptions import AddressInUseError, SecurityConfigError
from zq.worker.loader import load_object

log = logging.getLogger("zq.dispatcher")

DEFAULT_JOURNAL = "zq-dispatcher.db"
# What a standalone dispatcher takes over from the app's broker (its transport settings).
SETTINGS = (
    "heartbeat_s",
    "liveness_timeout_s",
    "delivery_limit",
    "max_results",
    "result_ttl_s",
    "max_msg_size",
    "max_pending",
    "journal_sync",
    "handshake_timeout_s",
    "max_connections",
    "shutdown_timeout_s",
    "app_name",  # with announce=True, announced under the app's name (zq worker --discover)
    "announce",
)


@click.command(context_settings={"max_content_width": 100})
@click.argument("app", metavar="[MODULE:BROKER]", required=False)
@click.option(
    "--address",
    "-a",
    default=None,
    help="Address to bind.  [default: the app broker's address, else tcp://127.0.0.1:5555]",
)
@click.option(
    "--journal",
    metavar="PATH",
    default=None,
    help=f"SQLite journal: accepted tasks survive a crash or a restart.  [default: the app "
    f"broker's journal, else {DEFAULT_JOURNAL} in the current directory]",
)
@click.option("--no-journal", is_flag=True, help="Keep tasks in memory only (a crash loses them).")
@click.option(
    "--standby",
    is_flag=True,
    help="If a dispatcher already serves the address, join it as its standby (hold a copy of "
    "its own tasks) and take the address over when it leaves or dies; else bind it.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Without a journal: seconds a stop waits for held tasks to run.  [default: the "
    "broker's shutdown_timeout_s]",
)
@click.option(
    "--app-dir",
    "-d",
    default=None,
    help="Directory to put first on the import path.  [default: the current directory]",
)
@logging_options
@curve_options(dispatcher=True)
def dispatcher(**options: Any) -> None:
    """Run a dispatcher of its own: producers that come and go, and workers, connect to it.

    MODULE:BROKER (or a factory returning one) is the app's ZeroMQBroker, whose address,
    CURVE keys and limits are used; its tasks are not imported. Producers of the app find the
    address taken and join this dispatcher; `zq worker APP` connects to it. With the journal
    (the default) a `kill -9` and a restart lose nothing. SIGINT/SIGTERM stop it: without a
    journal it first serves what it holds, up to --shutdown-timeout. With --standby it runs
    beside the app's dispatcher instead, ready to take its place.
    """
    if not options["no_configure_logging"]:
        logging.basicConfig(
            level=options["log_level"].upper(), format=options["log_format"], stream=sys.stderr
        )
    logging.getLogger("zq").setLevel(options["log_level"].upper())
    try:
        broker = standalone_broker(options)
    except click.ClickException:
        raise
    except Exception as exc:  # the app does not import, a key file is wrong, ...
        raise click.ClickException(f"cannot start: {exc}") from exc
    import uvloop

    sys.exit(uvloop.run(_serve(broker)))


def standalone_broker(options: dict[str, Any]) -> ZeroMQBroker:
    """A broker that only binds: the app's settings (if APP is given), the options over them."""
    app: ZeroMQBroker | None = None
    if options["app"]:
        target = load_object(options["app"], options["app_dir"])
        if callable(target) and not isinstance(target, ZeroMQBroker):
            target = target()
        if not isinstance(target, ZeroMQBroker):
            raise click.BadParameter(f"{options['app']} is not a ZeroMQBroker", param_hint="APP")
        app = target
    address = options["address"] or (app.address if app else "tcp://127.0.0.1:5555")
    try:
        check_endpoint(address, bind=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--address") from exc
    journal = None
    if not options["no_journal"]:
        journal = options["journal"] or (app.journal if app else None) or DEFAULT_JOURNAL
    settings = {name: getattr(app, name) for name in SETTINGS} if app else {}
    if options["shutdown_timeout"] is not None:
        settings["shutdown_timeout_s"] = options["shutdown_timeout"]
    broker = ZeroMQBroker(address, journal=journal, **settings)
    broker.may_join = options["standby"]
    if app is not None:
        broker.curve = app.curve
    if curve := curve_overrides(options):
        broker.use_curve(**curve)
    return broker


async def _serve(broker: ZeroMQBroker) -> int:
    """Bind (or, with ``--standby``, join), then serve until SIGINT/SIGTERM."""
    try:
        await broker.startup()
    except (AddressInUseError, SecurityConfigError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if broker.dispatcher is None:
        log.info(
            "zq dispatcher standing by for the dispatcher at %s: it takes the address over "
            "when that one leaves; SIGINT/SIGTERM stop it",
            broker.address,
        )
    else:
        log.info(
            "zq dispatcher ready on %s: producers join it, workers connect to it; "
            "SIGINT/SIGTERM stop it",
            broker.endpoint,
        )
    await stop.wait()
    log.info("stopping")
    report = await broker.shutdown()
    log.info(
        "zq dispatcher stopped; %d task(s) not run%s",
        len(report.unfinished),
        f", kept in the {report.kept_by}" if report.kept_by and report.unfinished else "",
    )
    return 1 if report.lost else 0
