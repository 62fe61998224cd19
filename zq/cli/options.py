"""Options that ``zq worker`` and ``zq scheduler`` share: where the app is, and logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from zq.worker.config import DEFAULT_LOG_FORMAT

LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False)

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Apply ``options`` so that ``--help`` lists them in the order given."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


app_options = _stack(
    click.option(
        "--app-dir",
        "-d",
        default=None,
        help="Directory to put first on the import path.  [default: the current directory]",
    ),
    click.option(
        "--fs-discover",
        "-fsd",
        is_flag=True,
        help="Import task modules found under the current directory (see --tasks-pattern).",
    ),
    click.option(
        "--tasks-pattern",
        "-tp",
        multiple=True,
        default=["**/tasks.py"],
        show_default=True,
        help="Glob of task modules for --fs-discover; repeatable.",
    ),
)

logging_options = _stack(
    click.option(
        "--log-level", type=LOG_LEVELS, default="INFO", show_default=True, help="Logging level."
    ),
    click.option(
        "--log-format",
        default=DEFAULT_LOG_FORMAT,
        show_default=True,
        help="Logging format (logging.Formatter style).",
    ),
    click.option(
        "--no-configure-logging",
        is_flag=True,
        help="Leave logging to the application (no basicConfig).",
    ),
)

_KEY_HELP = (
    "This process's CURVE key pair (a .key_secret file from `zq keys generate`); turns CURVE "
    "on.  [default: the broker's curve_key, else $ZQ_CURVE_KEY]"
)
_SERVER_KEY_HELP = (
    "The dispatcher's public key: a .key file, or its 40-character Z85 text.  [default: the "
    "broker's curve_server_key, else $ZQ_CURVE_SERVER_KEY, else this process's own]"
)


def curve_options(*, dispatcher: bool) -> Callable[[F], F]:
    """``--curve-*`` options; with ``dispatcher``, also the allow-lists of a process that binds."""
    options = [
        click.option("--curve-key", metavar="FILE", default=None, help=_KEY_HELP),
        click.option("--curve-server-key", metavar="KEY", default=None, help=_SERVER_KEY_HELP),
    ]
    if dispatcher:
        options += [
            click.option(
                "--curve-workers",
                metavar="DIR",
                default=None,
                help="Directory of .key files allowed to connect as workers, if this process "
                "binds the dispatcher.  [default: the broker's, else $ZQ_CURVE_WORKERS]",
            ),
            click.option(
                "--curve-producers",
                metavar="DIR",
                default=None,
                help="Directory of .key files allowed to connect only to submit tasks.  "
                "[default: the broker's, else $ZQ_CURVE_PRODUCERS]",
            ),
            click.option(
                "--curve-observers",
                metavar="DIR",
                default=None,
                help="Directory of .key files allowed to connect only to read (zq status, the "
                "dashboard).  [default: the broker's, else $ZQ_CURVE_OBSERVERS]",
            ),
        ]
    return _stack(*options)


def curve_overrides(options: dict[str, Any]) -> dict[str, str]:
    """The ``--curve-*`` values given, by ``CurveSettings`` field."""
    fields = ("key", "server_key", "workers", "producers", "observers")
    return {f: options[f"curve_{f}"] for f in fields if options.get(f"curve_{f}") is not None}
