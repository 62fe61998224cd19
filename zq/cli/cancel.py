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
from zq.cli.target import target_broker, target_options
from zq.core.messages import CancelOutcome
from zq.exceptions import AddressInUseError, SecurityConfigError

SAYS = {
    "cancelled": "cancelled (it had not started)",
    "cancelling": "cancelling (it is running; its worker was told to stop it)",
    "finished": "not cancelled: it had finished",
    "unknown": "not cancelled: no such task at this dispatcher",
}


@click.command(context_settings={"max_content_width": 100})
@click.argument("task_ids", metavar="TASK_ID...", nargs=-1, required=True)
@target_options
def cancel(**options: Any) -> None:
    """Cancel tasks by id: pending ones never start, running ones are stopped.

    Their waiters get TaskCancelledError. Prints one line per task; exits 0 if every task was
    cancelled, is being cancelled or had finished, 1 if some id is unknown there, 2 if no
    dispatcher answers.
    """
    broker = target_broker(options)
    try:
        outcomes = asyncio.run(_cancel(broker, list(options["task_ids"]), options["timeout"]))
    except (AddressInUseError, SecurityConfigError, TimeoutError) as exc:
        click.echo(f"zq cancel: {exc or 'the dispatcher did not answer in time'}", err=True)
        sys.exit(2)
    for task_id, outcome in zip(options["task_ids"], outcomes, strict=True):
        click.echo(f"{task_id}: {SAYS[outcome]}")
    sys.exit(1 if "unknown" in outcomes else 0)


async def _cancel(broker: ZeroMQBroker, task_ids: list[str], timeout: float) -> list[CancelOutcome]:
    config = broker.socket_config()
    submitter = Submitter(broker.address, ResultStore(), join_timeout_s=timeout, config=config)
    await submitter.start()
    try:
        return await asyncio.wait_for(submitter.cancel(task_ids), timeout)
    finally:
        await submitter.stop()
