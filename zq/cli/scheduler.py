"""``zq scheduler`` (run a ``TaskiqScheduler``) and ``zq schedules`` (edit a SQLite source)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from zq.brokers.zmq_broker import ZeroMQBroker
from zq.cli.options import app_options, curve_options, curve_overrides, logging_options
from zq.exceptions import SecurityConfigError
from zq.transport.discovery import require as require_discovery
from zq.worker.loader import discover, import_modules, load_object

if TYPE_CHECKING:
    from zq.scheduler import TaskiqScheduler

log = logging.getLogger("zq.scheduler")


@click.command(context_settings={"max_content_width": 100})
@click.argument("scheduler_spec", metavar="MODULE:SCHEDULER")
@click.argument("modules", nargs=-1)
@app_options
@logging_options
@curve_options(dispatcher=True)
@click.option(
    "--skip-first-run",
    is_flag=True,
    help="Do not fire what is due at start-up (one-off times still fire).",
)
@click.option(
    "--update-interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between re-reads of the sources (a SQLite source wakes it at once).",
)
@click.option(
    "--state-file",
    default="zq-scheduler-state.db",
    show_default=True,
    help="SQLite file for the last slot fired of sources that keep none themselves.",
)
@click.option(
    "--reload", "-r", is_flag=True, help="Restart the scheduler when the source code changes."
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="On stop, seconds to wait for the runs kicked here to be run (or journaled by the "
    "dispatcher).  [default: the broker's shutdown_timeout_s]",
)
@click.option(
    "--discover",
    is_flag=True,
    help="Join the app's dispatcher announced on the LAN (ZeroMQBroker(announce=True); needs "
    "zq[discovery]) before binding the broker's address: ZeroMQBroker(discover=True).",
)
def scheduler(**options: Any) -> None:
    """Run the TaskiqScheduler MODULE:SCHEDULER, importing MODULES for their tasks.

    It kicks through the scheduler's broker like any producer: with the app's address it
    joins the app's dispatcher. Two schedulers on one schedule fire each slot once.
    SIGINT/SIGTERM stop it.
    """
    if not options["no_configure_logging"]:
        logging.basicConfig(
            level=options["log_level"].upper(), format=options["log_format"], stream=sys.stderr
        )
    logging.getLogger("zq").setLevel(options["log_level"].upper())
    import uvloop

    code = uvloop.run(_run(options))
    if code == 3:  # --reload saw a change: start again with the new code
        os.execv(sys.executable, [sys.executable, "-m", "zq", *sys.argv[1:]])
    sys.exit(code)


def _load_scheduler(options: dict[str, Any]) -> TaskiqScheduler:
    """Import the app and find its ``TaskiqScheduler`` (a factory is called); CURVE applied."""
    from zq.scheduler import TaskiqScheduler

    app_dir = options["app_dir"]
    modules = list(options["modules"])
    if options["fs_discover"]:
        modules += discover(app_dir or os.getcwd(), list(options["tasks_pattern"]))
    import_modules(modules, app_dir)
    target = load_object(options["scheduler_spec"], app_dir)
    if callable(target) and not isinstance(target, TaskiqScheduler):
        target = target()
    if not isinstance(target, TaskiqScheduler):
        raise TypeError(f"{options['scheduler_spec']} is not a TaskiqScheduler")
    if curve := curve_overrides(options):
        if not isinstance(target.broker, ZeroMQBroker):
            raise TypeError("--curve-* options need the scheduler's broker to be a ZeroMQBroker")
        target.broker.use_curve(**curve)
    if options.get("discover"):
        if not isinstance(target.broker, ZeroMQBroker):
            raise TypeError("--discover needs the scheduler's broker to be a ZeroMQBroker")
        require_discovery()
        target.broker.discover = True
    if options.get("shutdown_timeout") is not None and isinstance(target.broker, ZeroMQBroker):
        target.broker.shutdown_timeout_s = options["shutdown_timeout"]
    return target


async def _run(options: dict[str, Any]) -> int:
    from zq.scheduling.loop import SchedulerLoop
    from zq.storage.schedule_state import ScheduleState

    app_dir = options["app_dir"]
    try:
        target = _load_scheduler(options)
    except Exception as exc:
        log.error("cannot load the scheduler: %s", exc)
        return 2
    loop = asyncio.get_running_loop()
    runner = SchedulerLoop(
        target,
        ScheduleState(options["state_file"]),
        skip_first_run=options["skip_first_run"],
        update_interval_s=options["update_interval"],
    )
    reloaded = False

    def on_change(_path: str) -> None:
        nonlocal reloaded
        reloaded = True
        loop.call_soon_threadsafe(runner.stop)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.stop)
    observers = []
    if options["reload"]:
        from zq.worker.reload import ChangeFilter, watch

        observers.append(watch(ChangeFilter([app_dir or os.getcwd()]), on_change))
    try:
        await target.startup()
    except SecurityConfigError as exc:
        log.error("cannot start: %s", exc)
        for observer in observers:
            observer.stop()
        return 2
    for source in target.sources:
        watch_source = getattr(source, "watch", None)
        if watch_source is not None:
            observers.append(watch_source(lambda: loop.call_soon_threadsafe(runner.wake)))
    try:
        await runner.run()
    finally:
        for observer in observers:
            observer.stop()
        await target.shutdown()
        runner.state.close()
    log.info(
        "scheduler stopped after %d run(s) kicked%s",
        runner.fired,
        "; reloading" if reloaded else "",
    )
    return 3 if reloaded else 0


@click.group(context_settings={"max_content_width": 100})
@click.option(
    "--db",
    envvar="ZQ_SCHEDULES_DB",
    default="zq-schedules.db",
    show_default=True,
    help="The SQLiteScheduleSource file (env ZQ_SCHEDULES_DB).",
)
@click.pass_context
def schedules(ctx: click.Context, db: str) -> None:
    """List and change the schedules of a SQLiteScheduleSource; a running scheduler sees it."""
    from zq.scheduling.sqlite_source import SQLiteScheduleSource

    ctx.obj = SQLiteScheduleSource(db)


@schedules.command("list")
@click.pass_obj
def list_schedules(source: Any) -> None:
    """One line per schedule: id, state, when, task, arguments."""
    for task, paused in source.list():
        state = "paused" if paused else "active"
        click.echo(
            f"{task.schedule_id}\t{state}\t{task.describe()}\t{task.task_name}\t"
            f"{json.dumps([task.args, task.kwargs])}"
        )


def _json(kind: type) -> Any:
    def parse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return kind()
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}") from exc
        if not isinstance(parsed, kind):
            raise click.BadParameter(f"expected a JSON {kind.__name__}")
        return parsed

    return parse


@schedules.command("add")
@click.argument("task_name")
@click.option("--cron", help="Cron expression: 5 fields, or 6 with seconds last.")
@click.option("--cron-offset", help="IANA time zone of --cron (e.g. Europe/Paris).  [default: UTC]")
@click.option("--interval", type=click.IntRange(min=1), help="Every N seconds.")
@click.option(
    "--time",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="One run at this time (UTC).",
)
@click.option("--args", callback=_json(list), help="JSON list of positional arguments.")
@click.option("--kwargs", callback=_json(dict), help="JSON object of keyword arguments.")
@click.option("--labels", callback=_json(dict), help="JSON object of labels.")
@click.option("--id", "schedule_id", help="Schedule id.  [default: a new uuid]")
@click.option(
    "--missed",
    type=click.Choice(["once", "all", "skip"]),
    default="once",
    show_default=True,
    help="What happens to slots missed while no scheduler ran.",
)
@click.pass_obj
def add_schedule(source: Any, /, task_name: str, at: datetime | None, **o: Any) -> None:
    """Add (or replace) a schedule of TASK_NAME (e.g. myapp.tasks:send_report)."""
    from zq.scheduler import ScheduledTask

    try:
        task = ScheduledTask(
            task_name=task_name,
            labels=o["labels"],
            args=o["args"],
            kwargs=o["kwargs"],
            cron=o["cron"],
            cron_offset=o["cron_offset"],
            interval=o["interval"],
            time=at,
            missed=o["missed"],
            **({"schedule_id": o["schedule_id"]} if o["schedule_id"] else {}),
        )
        asyncio.run(source.add_schedule(task))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(task.schedule_id)


def _by_id(action: str, doc: str) -> click.Command:
    @click.argument("schedule_id")
    @click.pass_obj
    def command(source: Any, schedule_id: str) -> None:
        try:
            asyncio.run(getattr(source, action)(schedule_id))
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from exc
        click.echo(f"{schedule_id} {action.split('_', maxsplit=1)[0]}d")

    command.__doc__ = doc
    return click.command(action.split("_", maxsplit=1)[0])(command)


schedules.add_command(_by_id("pause", "Stop firing a schedule until it is resumed."))
schedules.add_command(_by_id("resume", "Fire a paused schedule again (missed slots do not fire)."))
schedules.add_command(_by_id("delete_schedule", "Delete a schedule."))
