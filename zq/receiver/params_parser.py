"""``parse_params``: a message's arguments cast to the task's annotations (taskiq's path)."""

from __future__ import annotations

import inspect
from typing import Any

from zq.core.casting import cast_value, caster_for
from zq.message import TaskiqMessage

__all__ = ["parse_params"]


def parse_params(
    signature: inspect.Signature | None, type_hints: dict[str, Any], message: TaskiqMessage
) -> None:
    """Cast ``message.args`` and ``message.kwargs`` in place, as zq's receiver does."""
    if signature is None:
        return
    names = list(signature.parameters)
    for i, value in enumerate(message.args):
        caster = (
            caster_for(type_hints[names[i]]) if i < len(names) and names[i] in type_hints else None
        )
        if caster is not None and value is not None:
            message.args[i] = cast_value(caster, value, f"argument {i} of {message.task_name}")
    for name, value in message.kwargs.items():
        caster = caster_for(type_hints[name]) if name in type_hints else None
        if caster is not None and value is not None:
            message.kwargs[name] = cast_value(
                caster, value, f"argument {name!r} of {message.task_name}"
            )
