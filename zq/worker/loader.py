"""Finding the user's code for ``zq worker``.

The broker from ``module:attribute``, task modules by glob (``--fs-discover``), a receiver
class and its ``--receiver_arg`` values.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from zq.abc.broker import AsyncBroker

SKIPPED_DIRS = {"__pycache__", "venv", "node_modules", "site-packages"}


class AppLoadError(Exception):
    """The ``module:attribute`` given on the command line does not name a broker."""


def import_modules(modules: list[str], app_dir: str | None = None) -> None:
    """Import task modules; the current directory (and ``app_dir``) go on the path first."""
    for path in (app_dir, os.getcwd()):
        if path and path not in sys.path:
            sys.path.insert(0, path)
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a syntax error, or anything the module raises on import
            raise AppLoadError(f"cannot import {module!r}: {exc!r}") from exc


def load_broker(spec: str, app_dir: str | None = None) -> AsyncBroker:
    """Import ``module:attribute`` and return the broker it names (or that a factory returns)."""
    if spec.count(":") != 1 or spec.startswith(":") or spec.endswith(":"):
        raise AppLoadError(f"expected MODULE:BROKER (e.g. app:broker), got {spec!r}")
    obj = load_object(spec, app_dir)
    if not isinstance(obj, AsyncBroker) and callable(obj):
        obj = obj()  # a factory that builds the broker
    if not isinstance(obj, AsyncBroker):
        raise AppLoadError(f"{spec} is a {type(obj).__name__}, not a zq broker")
    return obj


def discover(root: str, patterns: list[str]) -> list[str]:
    """Module names of the files under ``root`` matching any glob in ``patterns``.

    Hidden directories, ``__pycache__`` and virtualenvs are skipped.
    """
    base = Path(root).resolve()
    found: set[str] = set()
    for pattern in patterns:
        for path in base.glob(pattern):
            relative = path.relative_to(base)
            if path.suffix != ".py" or any(
                part.startswith(".") or part in SKIPPED_DIRS for part in relative.parts[:-1]
            ):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts and all(part.isidentifier() for part in parts):
                found.add(".".join(parts))
    return sorted(found)


def load_object(spec: str, app_dir: str | None = None) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise AppLoadError(f"expected MODULE:NAME, got {spec!r}")
    import_modules([module_name], app_dir)
    obj: Any = sys.modules[module_name]
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(f"{module_name!r} has no attribute {attribute!r}") from None
    return obj


def receiver_kwargs(cls: type, raw: dict[str, str]) -> dict[str, Any]:
    """``--receiver_arg key=value`` strings converted to the constructor's annotated types."""
    parameters = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    converted: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in parameters and not takes_any:
            raise AppLoadError(f"{cls.__name__} takes no argument {key!r}")
        hint = _annotation(cls, parameters[key].annotation) if key in parameters else str
        if hint is str or hint is Any or hint is inspect.Parameter.empty:
            converted[key] = value
            continue
        try:
            converted[key] = msgspec.convert(value, hint, strict=False)
        except (msgspec.ValidationError, TypeError):
            try:  # lists, dicts and the like are written as JSON
                converted[key] = msgspec.json.decode(value, type=hint)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise AppLoadError(
                    f"--receiver_arg {key}={value!r}: not a valid {hint}: {exc}"
                ) from None
    return converted


def _annotation(cls: type, annotation: Any) -> Any:
    """An annotation, evaluated if it is a string (``from __future__ import annotations``)."""
    if not isinstance(annotation, str):
        return annotation
    init = getattr(cls, "__init__")  # noqa: B009 (mypy rejects instance.__init__)
    scope = dict(vars(sys.modules[init.__module__]))
    try:
        return eval(annotation, scope)
    except Exception as exc:
        raise AppLoadError(
            f"cannot read {cls.__name__}'s annotation {annotation!r}: {exc}"
        ) from exc
