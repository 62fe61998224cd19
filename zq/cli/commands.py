"""The ``zq`` command: worker, scheduler, schedules, cancel, keys, dispatcher.

uvloop is chosen here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import click

from zq import __version__
from zq.acks import AcknowledgeType
from zq.cli.cancel import cancel
from zq.cli.dashboard import dashboard
from zq.cli.dispatcher import dispatcher
from zq.cli.keys import keys
from zq.cli.options import app_options, curve_options, curve_overrides, logging_options
from zq.cli.scheduler import scheduler, schedules
from zq.cli.status import status, task, tasks
from zq.core.endpoints import check_endpoint
from zq.worker.config import WorkerConfig, configure_logging
from zq.worker.supervisor import WorkerSupervisor


def _loop_kind() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


@click.group()
@click.version_option(__version__, prog_name="zq")
def main() -> None:
    """zq: a brokerless task queue over ZeroMQ."""


def _endpoints(
    _ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """Check each address at start-up: a typo exits 2 with the fix, not a silent wait."""
    for value in values:
        try:
            check_endpoint(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param=param) from None
    return values


def _key_value(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {value!r}")
        pairs[key] = raw
    return pairs


def _queue_list(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    return [q.strip() for value in values for q in value.split(",") if q.strip()]


@main.command(context_settings={"max_content_width": 100})
@click.argument("app")
@click.argument("modules", nargs=-1)
@app_options
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the CPU count",
    help="Worker processes to run.",
)
@click.option(
    "--connect",
    multiple=True,
    metavar="ADDRESS",
    callback=_endpoints,
    help="Dispatcher address to connect to; repeatable (each process's slots are then shared "
    "evenly among them).  [default: the broker's address]",
)
@click.option(
    "--discover",
    is_flag=True,
    help="Join the app's dispatchers announced on the LAN (ZeroMQBroker(announce=True); needs "
    "zq[discovery]), besides any --connect; follows them as they come and go.",
)
@click.option(
    "--queues",
    "-q",
    multiple=True,
    callback=_queue_list,
    metavar="A,B",
    help="Serve only these named queues (comma-separated or repeated).  [default: every queue]",
)
@click.option(
    "--max-async-tasks",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Tasks each process runs at once.",
)
@click.option(
    "--max-async-tasks-jitter",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Add a random 0..N to --max-async-tasks in each process.",
)
@click.option(
    "--max-prefetch",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Extra tasks each process may hold waiting, beyond those running.",
)
@click.option(
    "--max-threadpool-threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads per process for sync tasks.  [default: Python's default]",
)
@click.option(
    "--use-process-pool",
    is_flag=True,
    help="Run sync tasks in a process pool instead of threads (arguments and results must pickle).",
)
@click.option(
    "--max-process-pool-processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes in that pool.  [default: the CPU count]",
)
@click.option(
    "--ack-type",
    type=click.Choice([a.value for a in AcknowledgeType]),
    default="when_saved",
    show_default=True,
    help="When a task's lease ends (the `ack_type` label overrides it per task).",
)
@click.option(
    "--no-parse", is_flag=True, help="Do not cast task arguments to their annotated types."
)
@click.option(
    "--no-capture-logs",
    is_flag=True,
    help="Do not keep what tasks log (it travels with their results to the task history: "
    "zq task show).",
)
@click.option(
    "--no-propagate-errors",
    is_flag=True,
    help="Do not throw a task's exception into its generator dependencies.",
)
@click.option(
    "--receiver",
    default="",
    metavar="MODULE:CLASS",
    help="A zq.Receiver subclass to run tasks with.  [default: zq.Receiver]",
)
@click.option(
    "--receiver_arg",
    "receiver_args",
    multiple=True,
    callback=_key_value,
    metavar="KEY=VALUE",
    help="Constructor argument for --receiver, cast to its annotation; repeatable.",
)
@curve_options(dispatcher=False)
@logging_options
@click.option(
    "--max-tasks-per-child",
    type=click.IntRange(min=1),
    default=None,
    help="Replace a process after it took N tasks.  [default: never]",
)
@click.option(
    "--max-fails",
    type=click.IntRange(min=1),
    default=None,
    help="Exit 1 after N unplanned process deaths.  [default: no limit; 20 within 60s still "
    "stop it, except deaths while running a task, which the dispatcher bounds by each task's "
    "delivery limit]",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds the broker's shutdown may take in each process.",
)
@click.option(
    "--wait-tasks-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="On shutdown, seconds running tasks may take; then they are cancelled and handed "
    "back.  [default: no limit]",
)
@click.option(
    "--loop-block-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Replace a process whose event loop has not run for this many seconds (a task "
    "blocks it); its tasks go back to the dispatcher and count a delivery. 0: never.",
)
@click.option(
    "--hardkill-count",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="The N-th SIGINT/SIGTERM kills the processes at once (the ones between cancel "
    "running tasks).",
)
@click.option(
    "--reload",
    "-r",
    is_flag=True,
    help="Restart the processes (one by one) when the source changes.",
)
@click.option(
    "--reload-dir",
    multiple=True,
    help="Directory to watch for --reload; repeatable.  [default: the current directory]",
)
@click.option(
    "--do-not-use-gitignore",
    is_flag=True,
    help="With --reload, also react to files that .gitignore lists.",
)
def worker(**options: Any) -> None:
    """Run worker processes for APP, importing MODULES for their tasks.

    APP is MODULE:BROKER, or MODULE:FACTORY naming a function that returns a broker.

    \b
    Signals: SIGINT/SIGTERM once: finish running tasks, then exit 0; twice: cancel them and
    hand them back to the dispatcher; --hardkill-count times: kill at once. SIGHUP: replace the
    processes one by one (graceful reload).
    """  # noqa: D301 (\b is click's no-rewrap marker)
    config = worker_config(options)
    if len(config.connect) > config.max_async_tasks + config.max_prefetch:
        raise click.UsageError(
            f"{len(config.connect)} --connect addresses share each process's "
            f"--max-async-tasks + --max-prefetch = {config.max_async_tasks + config.max_prefetch}"
            " slots evenly: each dispatcher needs at least one"
        )
    configure_logging(config)
    logging.getLogger("zq").setLevel(config.log_level)
    reload_dirs = list(options["reload_dir"]) or [os.getcwd()]
    supervisor = WorkerSupervisor(
        config,
        options["workers"],
        hardkill_count=options["hardkill_count"],
        max_fails=options["max_fails"],
        loop_block_timeout_s=options["loop_block_timeout"],
        reload_dirs=reload_dirs if options["reload"] else None,
        use_gitignore=not options["do_not_use_gitignore"],
    )
    sys.exit(asyncio.run(supervisor.run()))


def worker_config(options: dict[str, Any]) -> WorkerConfig:
    """The children's config from the ``zq worker`` options."""
    return WorkerConfig(
        app=options["app"],
        modules=list(options["modules"]),
        app_dir=options["app_dir"],
        fs_discover=options["fs_discover"],
        tasks_patterns=list(options["tasks_pattern"]),
        connect=list(options["connect"]),
        discover=options["discover"],
        queues=options["queues"],
        max_async_tasks=options["max_async_tasks"],
        max_async_tasks_jitter=options["max_async_tasks_jitter"],
        max_prefetch=options["max_prefetch"],
        max_threadpool_threads=options["max_threadpool_threads"],
        use_process_pool=options["use_process_pool"],
        max_process_pool_processes=options["max_process_pool_processes"],
        parse_params=not options["no_parse"],
        propagate_errors=not options["no_propagate_errors"],
        ack_type=options["ack_type"],
        receiver=options["receiver"],
        receiver_args=options["receiver_args"],
        max_tasks_per_child=options["max_tasks_per_child"],
        wait_tasks_timeout_s=options["wait_tasks_timeout"],
        shutdown_timeout_s=options["shutdown_timeout"],
        log_level=options["log_level"].upper(),
        log_format=options["log_format"],
        configure_logging=not options["no_configure_logging"],
        capture_logs=not options["no_capture_logs"],
        loop=_loop_kind(),
        curve=curve_overrides(options),
    )


main.add_command(cancel)
main.add_command(dashboard)
main.add_command(status)
main.add_command(task)
main.add_command(tasks)
main.add_command(dispatcher)
main.add_command(keys)
main.add_command(scheduler)
main.add_command(schedules)

if __name__ == "__main__":
    main()
