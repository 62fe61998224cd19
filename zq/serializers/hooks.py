"""What msgspec cannot encode by itself and taskiq's serializers carry.

taskiq sends pydantic models (as their JSON-mode dump) and ``pathlib`` paths (as strings); the
receiving task casts them back by its annotations. msgspec calls the hook only for a type it does
not know, so values it does encode pay nothing for it.
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
    raise TypeError(f"objects of type {type(value).__qualname__} are not serializable")
