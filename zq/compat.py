"""pydantic's model interface on zq's own value classes, and taskiq's ``compat`` helpers.

Plugins and frameworks written for taskiq treat ``TaskiqResult``, ``ScheduledTask`` and
``CronSpec`` as pydantic models: taskiq-redis stores ``result.model_dump(mode="json")`` and reads
it back with ``TaskiqResult[T].model_validate(...)``; FastAPI builds a JSON schema for
``response_model=TaskiqResult[int]``. zq's classes are plain (a result is built per task, and a
pydantic model costs microseconds more each), so they carry the methods instead, and pydantic is
needed only where pydantic itself asks for a schema (it is then installed, by definition).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

import msgspec

from zq.core.casting import caster_for
from zq.serializers.hooks import enc_hook

__all__ = ["ModelInterface", "T", "create_type_adapter", "parse_obj_as"]

T = TypeVar("T")

_json = msgspec.json.Encoder(enc_hook=enc_hook)


class ModelInterface:
    """``model_dump``, ``model_validate`` and friends, on top of ``_dump`` and ``_load``.

    A subclass says what its dumped dict looks like (``_shape``, for schemas) and how to build
    itself from one (``_load``).
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _dump(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    @classmethod
    def _load(cls, data: dict[str, Any]) -> Self:
        return cls(**data)

    @classmethod
    def _shape(cls, args: tuple[Any, ...]) -> Any:
        """A type (a TypedDict) that pydantic can describe: the dumped form."""
        raise NotImplementedError

    def model_dump(
        self, *, mode: str = "python", exclude_none: bool = False, **_ignored: Any
    ) -> dict[str, Any]:
        """The fields as a dict; with ``mode="json"``, only JSON types (as pydantic does)."""
        data = self._dump()
        if exclude_none:
            data = {k: v for k, v in data.items() if v is not None}
        if mode == "json":
            data = msgspec.to_builtins(data, enc_hook=enc_hook)
        return data

    def model_dump_json(self, **kwargs: Any) -> str:
        """The JSON text of ``model_dump(mode="json")``."""
        return _json.encode(self.model_dump(mode="json", **kwargs)).decode()

    @classmethod
    def model_validate(cls, obj: Any, **_ignored: Any) -> Self:
        """Build from a dict of fields or any object that has them (another library's model)."""
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, dict):
            obj = {name: getattr(obj, name) for name in cls._fields if hasattr(obj, name)}
        return cls._load({k: v for k, v in obj.items() if k in cls._fields})

    @classmethod
    def model_validate_json(cls, data: str | bytes, **_ignored: Any) -> Self:
        """Build from the JSON text ``model_dump_json`` gives."""
        return cls.model_validate(msgspec.json.decode(data))

    @classmethod
    def model_json_schema(cls, mode: str = "validation", **_ignored: Any) -> dict[str, Any]:
        """The JSON schema of the dumped form (needs pydantic, as it does in taskiq)."""
        import pydantic

        return pydantic.TypeAdapter(cls).json_schema(mode=mode)  # type: ignore[arg-type]

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, with ``update`` applied."""
        return self._load({**self._dump(), **(update or {})})

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Callable[[Any], Any]) -> Any:
        """Let pydantic (FastAPI's ``response_model``, a model's field) validate and dump us."""
        from pydantic_core import core_schema as cs

        shape = handler(cls._shape(typing.get_args(source)))
        from_dict = cs.no_info_after_validator_function(cls.model_validate, shape)

        def dump(value: Any, info: Any) -> Any:
            return value.model_dump(mode="json" if info.mode_is_json() else "python")

        return cs.json_or_python_schema(
            json_schema=from_dict,
            python_schema=cs.union_schema([cs.is_instance_schema(cls), from_dict]),
            serialization=cs.plain_serializer_function_ser_schema(
                dump, info_arg=True, return_schema=shape
            ),
        )


def dataclass_fields(cls: type) -> tuple[str, ...]:
    """The init fields of a dataclass, for ``ModelInterface._fields``."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def parse_obj_as(annotation: type[T], obj: Any) -> T:
    """``obj`` converted to ``annotation`` as a task's arguments are (taskiq's helper)."""
    caster = caster_for(annotation)
    return obj if caster is None else caster(obj)  # type: ignore[no-any-return]


def create_type_adapter(annotation: type[T]) -> Any:
    """Pydantic's ``TypeAdapter`` for ``annotation`` (taskiq's helper; needs pydantic)."""
    import pydantic

    return pydantic.TypeAdapter(annotation)
