"""``zq dashboard``: a web dashboard of a running dispatcher (extra ``zq[dashboard]``).

Pages: an overview (workers, queues, a live chart of throughput and queue depth), tasks (search
by id, name, state and time), a task (what ``zq task show`` shows), dead letters (replay,
purge), schedules (list, pause, resume, delete; with ``--schedules-db``). Server-rendered HTML
from aiohttp; live parts follow the status the dispatcher pushes (server-sent events), with a
small script of zq's own: no build step, nothing fetched from the network.
"""

from __future__ import annotations

import os
from typing import Any

import click

from zq.cli.target import app_argument, target_broker, target_options
from zq.core.access import is_loopback


@click.command(context_settings={"max_content_width": 100})
@app_argument
@target_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--token",
    envvar="ZQ_DASHBOARD_TOKEN",
    default=None,
    help="Required to open the dashboard (?token=... once, then a cookie); needed to serve "
    "anywhere but loopback.  [default: $ZQ_DASHBOARD_TOKEN]",
)
@click.option(
    "--schedules-db",
    envvar="ZQ_SCHEDULES_DB",
    default=None,
    metavar="FILE",
    help="A SQLiteScheduleSource file: shows its schedules, to pause, resume or delete.",
)
def dashboard(**options: Any) -> None:
    """Serve a web dashboard of the dispatcher (its workers, queues, tasks, dead letters)."""
    try:
        from aiohttp import web

        from zq.cli.dashboard.server import Dashboard
    except ImportError as exc:
        raise click.ClickException(
            f"zq dashboard needs aiohttp: pip install 'zq[dashboard]' ({exc})"
        ) from exc
    host = options["host"]
    if options["token"] is None and not is_loopback(f"tcp://{host}:0"):
        raise click.BadParameter(
            f"serving on {host} (not loopback) needs --token: anyone who reaches it could "
            "replay and purge dead letters",
            param_hint="--host",
        )
    broker = target_broker(options)
    if options["schedules_db"] is not None and not os.path.exists(options["schedules_db"]):
        raise click.BadParameter(
            f"{options['schedules_db']} not found", param_hint="--schedules-db"
        )
    board = Dashboard(
        broker.address,
        broker.socket_config(),
        token=options["token"],
        schedules_db=options["schedules_db"],
        serializer=broker.serializer,
        timeout_s=options["timeout"],
    )

    def ready(_text: str) -> None:  # aiohttp calls it once it listens
        where = f"http://{host}:{options['port']}/"
        click.echo(f"zq dashboard of {broker.address} running on {where}", err=True)

    # Live pages hold a stream open for as long as they are shown: on SIGTERM, close them
    # after a second instead of aiohttp's default minute.
    web.run_app(board.app(), host=host, port=options["port"], print=ready, shutdown_timeout=1.0)
