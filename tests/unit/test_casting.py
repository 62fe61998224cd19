"""Argument casting from type hints (msgspec, with pydantic for its own models)."""

import dataclasses
import datetime
import enum
import logging
import uuid
from typing import Any, TypedDict

import msgspec
import pydantic
import pytest

from zq.core.casting import ParamCaster, caster_for


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pair(msgspec.Struct):
    a: int
    b: str


class Options(TypedDict):
    n: int


class Color(enum.Enum):
    RED = "red"


class Model(pydantic.BaseModel):
    z: int


def target(
    n: int,
    p: Point,
    pair: Pair,
    when: datetime.datetime,
    key: uuid.UUID,
    color: Color,
    options: Options,
    model: Model,
    free: Any,
    *rest: float,
    flag: bool = False,
) -> None: ...


def test_every_supported_kind_is_cast() -> None:
    args: list[Any] = [
        "2",
        {"x": "1", "y": 2},
        {"a": "3", "b": "x"},
        "2026-01-02T03:04:05",
        "12345678123456781234567812345678",
        "red",
        {"n": "4"},
        {"z": "5"},
        "left alone",
        "1.5",
    ]
    kwargs: dict[str, Any] = {"flag": "true"}
    ParamCaster(target, "t").cast(args, kwargs)
    assert args == [
        2,
        Point(1, 2),
        Pair(3, "x"),
        datetime.datetime(2026, 1, 2, 3, 4, 5),
        uuid.UUID("12345678123456781234567812345678"),
        Color.RED,
        {"n": 4},
        Model(z=5),
        "left alone",
        1.5,
    ]
    assert kwargs == {"flag": True}


def test_a_value_that_does_not_cast_passes_as_is_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    args: list[Any] = ["not a number"]
    with caplog.at_level(logging.WARNING, logger="zq.casting"):
        ParamCaster(lambda n: None, "t").cast(args, {})  # no annotation: nothing to do
        ParamCaster(target, "t").cast(args, {})
    assert args == ["not a number"]
    assert "cannot convert argument 0 of t" in caplog.text


def test_nothing_to_cast_for_unannotated_or_any() -> None:
    assert caster_for(Any) is None and caster_for(None) is None
    assert not ParamCaster(lambda a, b: None, "t").needed
