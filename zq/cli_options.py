"""Options that ``zq worker`` and ``zq scheduler`` share: where the app is, and logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from zq.worker import DEFAULT_LOG_FORMAT

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
