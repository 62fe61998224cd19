"""taskiq's CLI helpers (``taskiq.cli.utils``), on zq's loader (``zq.worker.loader``)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from zq.worker.loader import AppLoadError, discover, import_modules, load_object

__all__ = ["add_cwd_in_path", "import_from_modules", "import_object", "import_tasks"]

log = logging.getLogger("zq.cli")


@contextlib.contextmanager
def add_cwd_in_path() -> Iterator[None]:
    """The current directory on ``sys.path`` for the ``with`` block (removed after if added)."""
    cwd = os.getcwd()
    if cwd in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(cwd)


def import_object(object_spec: str, app_dir: str | None = None) -> Any:
    """The object ``module:name`` names; ``ValueError`` for a spec of another form."""
    try:
        return load_object(object_spec, app_dir)
    except AppLoadError as exc:
        raise ValueError(str(exc)) from exc


def import_from_modules(modules: list[str]) -> None:
    """Import each module; one that fails is logged with its error and skipped (as taskiq)."""
    for module in modules:
        try:
            import_modules([module])
        except AppLoadError as exc:
            log.warning("%s", exc)


def import_tasks(modules: list[str], pattern: str | Sequence[str], fs_discover: bool) -> None:
    """Import ``modules``; with ``fs_discover`` also files under the cwd matching ``pattern``."""
    found = list(modules)
    if fs_discover:
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        found += discover(os.getcwd(), patterns)
    import_from_modules(found)
