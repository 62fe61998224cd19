"""``zq status``, ``zq task show ID``, ``zq tasks``: a running dispatcher, seen from a shell.

Each connects as an observer (``zq.actors.observer``: it reads, it never binds, submits or
takes a task), asks, prints, and leaves. ``--json`` prints the dispatcher's answer as it is
(its schema: ``docs/observing.md``). Exit codes: 0 answered, 1 no such task, 2 nothing
answered at the address (or it refused this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click

from zq.actors.observer import Observer, ObserverError
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.cli import render
from zq.cli.target import app_argument, target_broker, target_options
from zq.core.history import STATES
from zq.exceptions import AddressInUseError, SecurityConfigError

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen: --watch redraws in place


def ask(
    broker: ZeroMQBroker, timeout: float, use: Callable[[Observer], Awaitable[Any]], name: str
) -> Any:
    """Run ``use`` with an observer of the broker's dispatcher; exit 2 if nothing answers."""

    async def run() -> Any:
        async with Observer(broker.address, broker.socket_config(), timeout) as observer:
            return await use(observer)

    try:
        return asyncio.run(run())
    except (AddressInUseError, SecurityConfigError, TimeoutError, ObserverError) as exc:
        click.echo(f"zq {name}: {exc}", err=True)
        sys.exit(2)


@click.command(context_settings={"max_content_width": 100})
@app_argument
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/observing.md).")
@click.option("--watch", is_flag=True, help="Redraw every --interval seconds until Ctrl-C.")
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, metavar="S"
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after N redraws.  [default: never]",
)
def status(**options: Any) -> None:
    """The dispatcher, its workers, queues and dead letters, now.

    Workers: host, pid, queues, slots busy/total, tasks run, last seen. Queues: tasks pending
    (by priority), delayed and running. Throughput over the last minute. Exits 2 if no
    dispatcher answers.
    """
    broker = target_broker(options)
    as_json, watch = options["as_json"], options["watch"]

    async def show(observer: Observer) -> None:
        shown = 0
        while True:
            answer = await observer.ask("status")
            text = json.dumps(answer, indent=2) if as_json else render.status(answer)
            click.echo(f"{CLEAR if watch else ''}{text}", color=watch)  # (keeps CLEAR)
            shown += 1
            if not watch or (options["count"] is not None and shown >= options["count"]):
                return
            await asyncio.sleep(options["interval"])  # a refresh period, not a wait for a state

    with contextlib.suppress(KeyboardInterrupt):  # --watch ends with Ctrl-C
        ask(broker, options["timeout"], show, "status")


@click.group()
def task() -> None:
    """One task: ``zq task show ID``."""


@task.command(context_settings={"max_content_width": 100})
@click.argument("task_id")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/observing.md).")
@click.option("--args", "with_args", is_flag=True, help="Show its arguments (may be private).")
def show(task_id: str, **options: Any) -> None:
    """A task's state, runs (worker, times, error, traceback, log lines) and result.

    A task the dispatcher holds, or one of the last it finished (its history). Exits 1 if it
    knows no such task, 2 if no dispatcher answers.
    """
    broker = target_broker(options)
    found = ask(
        broker,
        options["timeout"],
        lambda o: o.ask("task", id=task_id, args=options["with_args"]),
        "task show",
    )
    if found is None:
        click.echo(f"zq task show: no task {task_id} at {broker.address} (never kicked, or "
                   "finished longer ago than its history keeps)", err=True)  # fmt: skip
        sys.exit(1)
    if options["as_json"]:
        click.echo(json.dumps(render.jsonable(found, broker.serializer), indent=2))
    else:
        click.echo(render.task(found, broker.serializer))


@click.command(context_settings={"max_content_width": 100})
@app_argument
@target_options
@click.option("--state", type=click.Choice(STATES), default=None, help="Only tasks in it.")
@click.option("--name", default=None, metavar="TASK_NAME", help="Only tasks of this name.")
@click.option(
    "--since",
    default=None,
    metavar="AGE",
    help="Only tasks that ended in the last AGE: 90s, 15m, 1h, 2d.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (docs/observing.md).")
def tasks(**options: Any) -> None:
    """The tasks the dispatcher finished last (its history), newest first."""
    since = None if options["since"] is None else time.time() - parse_age(options["since"])
    broker = target_broker(options)
    found = ask(
        broker,
        options["timeout"],
        lambda o: o.ask(
            "tasks",
            state=options["state"],
            name=options["name"],
            since=since,
            limit=options["limit"],
        ),
        "tasks",
    )
    if options["as_json"]:
        click.echo(json.dumps(render.jsonable(found, broker.serializer), indent=2))
    else:
        click.echo(render.task_list(found))


def parse_age(text: str) -> float:
    """Seconds in ``90s``, ``15m``, ``1h``, ``2d`` (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not an age such as 90s, 15m, 1h or 2d", param_hint="--since"
        )
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit
