"""Labels as typed strings, for transports whose headers carry only text (taskiq's helpers).

zq's own protocol carries label values with their types (msgpack), so zq does not need these;
they are here for brokers and middlewares written against taskiq.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from typing import Any

__all__ = ["LabelType", "parse_label", "prepare_label"]


class LabelType(enum.IntEnum):
    """The type a label's text stands for."""

    ANY = enum.auto()
    INT = enum.auto()
    STR = enum.auto()
    FLOAT = enum.auto()
    BOOL = enum.auto()
    BYTES = enum.auto()


_PARSERS: dict[LabelType, Callable[[str], Any]] = {
    LabelType.INT: int,
    LabelType.STR: str,
    LabelType.FLOAT: float,
    LabelType.BOOL: lambda text: str(text).lower() == "true",
    LabelType.BYTES: base64.b64decode,
    LabelType.ANY: lambda text: text,
}
_TYPES = {int: LabelType.INT, str: LabelType.STR, float: LabelType.FLOAT, bool: LabelType.BOOL}


def prepare_label(label_value: Any) -> tuple[str, int]:
    """``label_value`` as text and the ``LabelType`` number that reads it back."""
    kind = _TYPES.get(type(label_value))
    if kind is not None:
        return str(label_value), kind.value
    if type(label_value) is bytes:
        return base64.b64encode(label_value).decode(), LabelType.BYTES.value
    return str(label_value), LabelType.ANY.value


def parse_label(label_value: Any, label_type: int | None = None) -> Any:
    """The value ``prepare_label`` turned into text (as is without a type)."""
    if label_type is None:
        return label_value
    return _PARSERS[LabelType(label_type)](label_value)
