"""The ``zq`` command and its subcommands (the console script ``zq`` is ``zq.cli:main``)."""

from zq.cli.commands import main

__all__ = ["main"]
