"""The ``zq`` command: ``zq worker`` (and, later, ``zq scheduler``). uvloop is chosen here."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import click

from zq import __version__
from zq.actors.supervisor import WorkerSupervisor
from zq.worker import WorkerConfig, configure_logging

LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False)


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


@main.command()
@click.argument("app")
@click.argument("modules", nargs=-1)
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
    help="Dispatcher address to connect to; repeat for several. [default: the broker's address]",
)
@click.option(
    "--max-async-tasks",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Tasks each process runs at once.",
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
    help="Threads per process for sync tasks. [default: Python's default]",
)
@click.option(
    "--wait-tasks-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="On shutdown, seconds running tasks may take to finish. [default: no limit]",
)
@click.option("--app-dir", "-d", default=None, help="Directory to add to the import path.")
@click.option(
    "--log-level", type=LOG_LEVELS, default="INFO", show_default=True, help="Logging level."
)
def worker(
    app: str,
    modules: tuple[str, ...],
    workers: int,
    connect: tuple[str, ...],
    max_async_tasks: int,
    max_prefetch: int,
    max_threadpool_threads: int | None,
    wait_tasks_timeout: float | None,
    app_dir: str | None,
    log_level: str,
) -> None:
    """Run worker processes for APP (MODULE:BROKER), importing MODULES for their tasks."""
    config = WorkerConfig(
        app=app,
        modules=list(modules),
        app_dir=app_dir,
        connect=list(connect),
        max_async_tasks=max_async_tasks,
        max_prefetch=max_prefetch,
        max_threadpool_threads=max_threadpool_threads,
        wait_tasks_timeout_s=wait_tasks_timeout,
        log_level=log_level.upper(),
        loop=_loop_kind(),
    )
    configure_logging(config)
    logging.getLogger("zq").setLevel(config.log_level)
    supervisor = WorkerSupervisor(config, workers)
    sys.exit(asyncio.run(supervisor.run()))


if __name__ == "__main__":
    main()
