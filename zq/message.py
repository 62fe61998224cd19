"""``TaskiqMessage`` and ``BrokerMessage``: a task as middlewares and formatters see it.

zq's wire message is ``zq.core.messages.TaskMsg`` (arguments already encoded). A ``TaskiqMessage``
(arguments decoded) is built only where user code needs one: for middlewares, ``Context`` and
formatters. Labels keep their types (msgpack carries them), so ``labels_types`` is always None.
"""

from __future__ import annotations

from typing import Any

import msgspec


class TaskiqMessage(msgspec.Struct, kw_only=True):
    """One task call: id, name, labels, positional and keyword arguments."""

    task_id: str
    task_name: str
    labels: dict[str, Any]
    args: list[Any]
    kwargs: dict[str, Any]
    labels_types: dict[str, int] | None = None

    def parse_labels(self) -> None:
        """Nothing to do: zq labels keep their types across the wire (taskiq compatibility)."""


class BrokerMessage(msgspec.Struct, kw_only=True):
    """A task with its arguments encoded: what a formatter produces."""

    task_id: str
    task_name: str
    message: bytes
    labels: dict[str, Any]
