"""The dispatcher a shell command talks to: ``--app``'s broker, ``--connect`` or ``--discover``.

Shared by the commands that reach a running dispatcher without binding it (``zq cancel``,
``zq status``, ``zq task show``, ``zq tasks``): they take its address and CURVE settings from
the app's broker, overridden by ``--connect`` (or the first dispatcher of the app announced on
the LAN, ``--discover``) and ``--curve-*``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from zq.brokers.zmq_broker import ZeroMQBroker
from zq.cli.options import _stack, curve_options, curve_overrides
from zq.core.endpoints import check_endpoint
from zq.transport.discovery import discover
from zq.worker.loader import load_object

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"


def target_options(command: F) -> F:
    """``--app``, ``--connect``, ``--app-dir``, ``--timeout`` and the client ``--curve-*``."""
    return _stack(
        click.option(
            "--app",
            metavar="MODULE:BROKER",
            default=None,
            help="The app's broker: its address and CURVE settings.",
        ),
        click.option(
            "--connect",
            "-c",
            metavar="ADDRESS",
            default=None,
            help=f"The dispatcher's address.  [default: the app broker's, else {DEFAULT_ADDRESS}]",
        ),
        click.option(
            "--discover",
            is_flag=True,
            help="Find the app's dispatcher on the LAN (ZeroMQBroker(announce=True); needs "
            "zq[discovery] and the app), instead of an address.",
        ),
        click.option("--app-dir", default=None, help="Directory to import the app from."),
        click.option(
            "--timeout",
            type=float,
            default=5.0,
            show_default=True,
            help="Seconds to wait for the dispatcher.",
        ),
        curve_options(dispatcher=False),
    )(command)


def app_argument(command: F) -> F:
    """An optional ``APP`` argument: the same as ``--app`` (``zq status myapp.tasks:broker``)."""
    return click.argument("app_arg", metavar="[APP]", required=False)(command)


def target_broker(options: dict[str, Any]) -> ZeroMQBroker:
    """The app's broker (for its address and keys), or one for ``--connect``; never started."""
    broker: ZeroMQBroker | None = None
    if options.get("app_arg") and options["app"] and options["app_arg"] != options["app"]:
        raise click.UsageError("give the app once: as APP or as --app")
    app = options["app"] or options.get("app_arg")
    if app:
        found = load_object(app, options["app_dir"])
        if not isinstance(found, ZeroMQBroker):
            raise click.BadParameter(f"{app} is not a ZeroMQBroker", param_hint="APP")
        broker = found
    if broker is not None and (curve := curve_overrides(options)):
        broker.use_curve(**curve)  # (the server key --discover trusts)
    announced = _discovered(broker, options) if options.get("discover") else None
    address = announced or options["connect"] or (broker.address if broker else DEFAULT_ADDRESS)
    try:
        check_endpoint(address)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--connect") from exc
    if broker is None or address != broker.address:
        plain = ZeroMQBroker(address)
        if broker is not None:
            plain.curve = broker.curve
            plain.serializer = broker.serializer
        broker = plain
    if curve := curve_overrides(options):
        broker.use_curve(**curve)
    return broker


def _discovered(broker: ZeroMQBroker | None, options: dict[str, Any]) -> str:
    """The first address where a dispatcher of the app is announced (exit 2 if none)."""
    if broker is None or options["connect"]:
        raise click.UsageError("--discover needs the app (APP or --app), and no --connect")
    curve = broker.socket_config().curve
    found = asyncio.run(
        discover(broker.app_name, options["timeout"], key=curve.server.decode() if curve else "")
    )
    if not found:
        click.echo(
            f"no dispatcher of {broker.app_name!r} announced on the LAN within "
            f"{options['timeout']:g}s",
            err=True,
        )
        sys.exit(2)
    return found[0]
