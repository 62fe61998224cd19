"""``zq cancel TASK_ID...``: cancel tasks from a shell, through the app's dispatcher.

It joins the dispatcher as a producer would (never binds the address), asks it to cancel, and
prints one line per task. The same as ``await broker.cancel(task_id)`` in a process of the app.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from zq.actors.results import ResultStore
from zq.actors.submitter import Submitter
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.cli.options import curve_options, curve_overrides
from zq.core.endpoints import check_endpoint
from zq.core.messages import CancelOutcome
from zq.exceptions import AddressInUseError, SecurityConfigError
from zq.worker.loader import load_object

SAYS = {
    "cancelled": "cancelled (it had not started)",
    "cancelling": "cancelling (it is running; its worker was told to stop it)",
    "finished": "not cancelled: it had finished",
    "unknown": "not cancelled: no such task at this dispatcher",
}


@click.command(context_settings={"max_content_width": 100})
@click.argument("task_ids", metavar="TASK_ID...", nargs=-1, required=True)
@click.option(
    "--app",
    metavar="MODULE:BROKER",
    default=None,
    help="The app's broker: its address and CURVE settings.",
)
@click.option(
    "--connect",
    "-c",
    metavar="ADDRESS",
    default=None,
    help="The dispatcher's address.  [default: the app broker's, else tcp://127.0.0.1:5555]",
)
@click.option("--app-dir", default=None, help="Directory to import the app from.")
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds to wait for the dispatcher.",
)
@curve_options(dispatcher=False)
def cancel(**options: Any) -> None:
    """Cancel tasks by id: pending ones never start, running ones are stopped.

    Their waiters get TaskCancelledError. Prints one line per task; exits 0 if every task was
    cancelled, is being cancelled or had finished, 1 if some id is unknown there, 2 if no
    dispatcher answers.
    """
    broker = _broker(options)
    try:
        outcomes = asyncio.run(_cancel(broker, list(options["task_ids"]), options["timeout"]))
    except (AddressInUseError, SecurityConfigError, TimeoutError) as exc:
        click.echo(f"zq cancel: {exc or 'the dispatcher did not answer in time'}", err=True)
        sys.exit(2)
    for task_id, outcome in zip(options["task_ids"], outcomes, strict=True):
        click.echo(f"{task_id}: {SAYS[outcome]}")
    sys.exit(1 if "unknown" in outcomes else 0)


def _broker(options: dict[str, Any]) -> ZeroMQBroker:
    """The app's broker (for its address and keys), or one for ``--connect``; never started."""
    broker: ZeroMQBroker | None = None
    if options["app"]:
        target = load_object(options["app"], options["app_dir"])
        if not isinstance(target, ZeroMQBroker):
            raise click.BadParameter(f"{options['app']} is not a ZeroMQBroker", param_hint="--app")
        broker = target
    address = options["connect"] or (broker.address if broker else "tcp://127.0.0.1:5555")
    try:
        check_endpoint(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--connect") from exc
    if broker is None or address != broker.address:
        plain = ZeroMQBroker(address)
        if broker is not None:
            plain.curve = broker.curve
        broker = plain
    if curve := curve_overrides(options):
        broker.use_curve(**curve)
    return broker


async def _cancel(broker: ZeroMQBroker, task_ids: list[str], timeout: float) -> list[CancelOutcome]:
    config = broker.socket_config()
    submitter = Submitter(broker.address, ResultStore(), join_timeout_s=timeout, config=config)
    await submitter.start()
    try:
        return await asyncio.wait_for(submitter.cancel(task_ids), timeout)
    finally:
        await submitter.stop()
