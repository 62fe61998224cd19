"""Finding the user's broker from ``module:attribute`` (what ``zq worker app:broker`` names)."""

from __future__ import annotations

import importlib
import os
import sys

from zq.broker import AsyncBroker


class AppLoadError(Exception):
    """The ``module:attribute`` given on the command line does not name a broker."""


def import_modules(modules: list[str], app_dir: str | None = None) -> None:
    """Import task modules; the current directory (and ``app_dir``) go on the path first."""
    for path in (app_dir, os.getcwd()):
        if path and path not in sys.path:
            sys.path.insert(0, path)
    for module in modules:
        importlib.import_module(module)


def load_broker(spec: str, app_dir: str | None = None) -> AsyncBroker:
    """Import ``module:attribute`` and return the broker it names (or that a factory returns)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise AppLoadError(f"expected MODULE:BROKER (e.g. app:broker), got {spec!r}")
    try:
        import_modules([module_name], app_dir)
    except ImportError as exc:
        raise AppLoadError(f"cannot import {module_name!r}: {exc}") from exc
    module = sys.modules[module_name]
    obj = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(obj, AsyncBroker) and callable(obj):
        obj = obj()  # a factory that builds the broker
    if not isinstance(obj, AsyncBroker):
        raise AppLoadError(f"{spec} is a {type(obj).__name__}, not a zq broker")
    return obj
