"""Argument and return-value casting from type hints (taskiq's "parse params").

``add.kiq("2")`` runs ``add(a: int)`` with ``a == 2``. Conversion is msgspec's (lax mode):
numbers from strings, dataclasses, msgspec Structs, TypedDicts, datetimes, UUIDs, enums and
containers of them. A pydantic model (or any type msgspec does not support) is converted by
pydantic when it is installed. A value that cannot be converted is passed as is, with a warning.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import msgspec

log = logging.getLogger("zq.casting")

Caster = Callable[[Any], Any]
_SKIP = (Any, object, inspect.Parameter.empty, None, type(None))


def _pydantic_caster(annotation: Any) -> Caster | None:
    try:
        import pydantic
    except ImportError:
        return None
    try:
        adapter: Any = pydantic.TypeAdapter(annotation)
    except Exception:
        return None
    return adapter.validate_python  # type: ignore[no-any-return]


def caster_for(annotation: Any) -> Caster | None:
    """A function converting a value to ``annotation``, or None when there is nothing to do."""
    try:
        return _cached_caster(annotation)
    except TypeError:  # an unhashable annotation: build it every time
        return _build_caster(annotation)


@lru_cache(maxsize=1024)
def _cached_caster(annotation: Any) -> Caster | None:
    return _build_caster(annotation)


def _build_caster(annotation: Any) -> Caster | None:
    if annotation in _SKIP or isinstance(annotation, (str, typing.TypeVar)):
        return None
    try:
        msgspec.convert(None, annotation, strict=False)
    except msgspec.ValidationError:
        pass  # the type is supported (None just is not a valid value of it)
    except TypeError:  # msgspec does not support this type at all
        return _pydantic_caster(annotation)
    plain = annotation if isinstance(annotation, type) else None
    fallback: list[Caster | None] = []  # pydantic's, built on first need

    def cast(value: Any) -> Any:
        if plain is not None and type(value) is plain:  # already right: the common case
            return value
        try:
            return msgspec.convert(value, annotation, strict=False)
        except msgspec.ValidationError:
            # msgspec takes a pydantic model for a plain object; pydantic knows better.
            if not fallback:
                fallback.append(_pydantic_caster(annotation))
            if fallback[0] is None:
                raise
            return fallback[0](value)

    return cast


def cast_value(caster: Caster, value: Any, what: str) -> Any:
    """``caster(value)``, or ``value`` unchanged (with a warning) if it does not convert."""
    try:
        return caster(value)
    except Exception as exc:
        log.warning("cannot convert %s (%r): %s; passing it as is", what, value, exc)
        return value


def cast_result(return_type: Any, value: Any, task_id: str) -> Any:
    """A task's return value cast to its declared return type (None and unhinted: as is)."""
    if return_type is None or value is None:
        return value
    caster = caster_for(return_type)
    return value if caster is None else cast_value(caster, value, f"the result of task {task_id}")


class ParamCaster:
    """Converts one task's call arguments to its parameters' annotations."""

    __slots__ = ("_by_name", "_positional", "_star", "task_name")

    def __init__(self, func: Callable[..., Any], task_name: str) -> None:
        try:
            hints = typing.get_type_hints(func, include_extras=False)
        except Exception:
            hints = {}
        self._build(inspect.signature(func), hints, task_name)

    @classmethod
    def from_signature(
        cls, signature: inspect.Signature, hints: dict[str, Any], task_name: str
    ) -> ParamCaster:
        """The caster for a signature and its type hints already worked out (taskiq's way)."""
        caster = cls.__new__(cls)
        caster._build(signature, hints, task_name)
        return caster

    def _build(self, signature: inspect.Signature, hints: dict[str, Any], task_name: str) -> None:
        self.task_name = task_name
        params = signature.parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self._positional: list[Caster | None] = []
        self._by_name: dict[str, Caster] = {}
        self._star: Caster | None = None
        for param in params:
            caster = caster_for(hints[param.name]) if param.name in hints else None
            if param.kind in kinds:
                self._positional.append(caster)
            elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                self._star = caster
                continue
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            if caster is not None and param.kind is not inspect.Parameter.POSITIONAL_ONLY:
                self._by_name[param.name] = caster

    @property
    def needed(self) -> bool:
        """Whether any parameter has an annotation to convert to."""
        return bool(self._by_name or self._star or any(self._positional))

    def cast(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Convert ``args`` and ``kwargs`` in place (None is never converted)."""
        positional = self._positional
        for i, value in enumerate(args):
            caster = positional[i] if i < len(positional) else self._star
            if caster is not None and value is not None:
                args[i] = cast_value(caster, value, f"argument {i} of {self.task_name}")
        for name, value in kwargs.items():
            caster = self._by_name.get(name)
            if caster is not None and value is not None:
                kwargs[name] = cast_value(caster, value, f"argument {name!r} of {self.task_name}")
