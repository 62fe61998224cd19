"""``parse_params``: a message's arguments cast to the task's annotations (taskiq's path)."""

from __future__ import annotations

import inspect
from typing import Any

from zq.core.casting import ParamCaster
from zq.message import TaskiqMessage

__all__ = ["parse_params"]


def parse_params(
    signature: inspect.Signature | None, type_hints: dict[str, Any], message: TaskiqMessage
) -> None:
    """Cast ``message.args`` and ``message.kwargs`` in place, as zq's receiver does."""
    if signature is not None:
        caster = ParamCaster.from_signature(signature, type_hints, message.task_name)
        caster.cast(message.args, message.kwargs)
