"""What msgspec cannot encode by itself and taskiq's serializers carry.

taskiq sends its arguments as pydantic's JSON-mode dump: pydantic models as dicts, ``pathlib``
paths as strings, and whatever else pydantic can turn into JSON (IP addresses, patterns...). The
receiving task casts them back by its annotations. msgspec calls the hook only for a type it does
not know, so values it does encode pay nothing for it; pydantic is used only when it is installed
and only for what neither rule below covers.
"""

from __future__ import annotations

import os
from typing import Any


def enc_hook(value: Any) -> Any:
    """A portable stand-in for ``value``, or ``TypeError`` naming its type."""
    dump = getattr(value, "model_dump", None)
    if dump is not None and callable(dump):  # pydantic v2 models, TaskiqResult, ScheduledTask
        return dump(mode="json")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    try:
        from pydantic_core import PydanticSerializationError, to_jsonable_python
    except ImportError:
        pass
    else:
        try:
            return to_jsonable_python(value)
        except PydanticSerializationError:
            pass
    raise TypeError(f"objects of type {type(value).__qualname__} are not serializable")
