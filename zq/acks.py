"""Acknowledgement: when a task's lease on the dispatcher ends (taskiq's names).

With zq, "acknowledged" means the dispatcher will not deliver the task again if its executor is
lost. By default (``WHEN_SAVED``) that is when its result reaches the dispatcher. A task
acknowledged earlier whose executor is then lost is dead-lettered with that reason, never
silently dropped.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@enum.unique
class AcknowledgeType(str, enum.Enum):  # noqa: UP042 - taskiq's type, str() included
    """When the lease ends: on receipt, after running, once the result is saved, or manually."""

    WHEN_RECEIVED = "when_received"
    WHEN_EXECUTED = "when_executed"
    WHEN_SAVED = "when_saved"
    MANUAL = "manual"


def parse_acknowledge_type(value: Any) -> AcknowledgeType:
    """An ``AcknowledgeType`` from itself or its (case-insensitive) name; ValueError otherwise."""
    if isinstance(value, AcknowledgeType):
        return value
    if isinstance(value, str):
        try:
            return AcknowledgeType(value.lower())
        except ValueError:
            pass
    choices = ", ".join(t.value for t in AcknowledgeType)
    raise ValueError(f"unknown ack type {value!r}: choose one of {choices}")


@dataclass(slots=True)
class AckableMessage:
    """taskiq's message-plus-ack pair, for code written against taskiq's broker interface.

    zq's own brokers do not produce these (acknowledgement is part of zq's protocol).
    """

    data: bytes
    ack: Callable[[], Awaitable[None] | None]


class AckController:
    """Acknowledges one received message at most once (taskiq's, for brokers written for it)."""

    def __init__(self, ack: Callable[[], Awaitable[None] | None] | None) -> None:
        self._ack = ack
        self.is_acked = False

    @property
    def is_ackable(self) -> bool:
        """Whether the message can be acknowledged at all."""
        return self._ack is not None

    async def ack(self) -> None:
        """Acknowledge it (a second call does nothing); ``RuntimeError`` if it cannot be."""
        if self._ack is None:
            raise RuntimeError("this message cannot be acknowledged")
        if self.is_acked:
            return
        outcome = self._ack()
        if outcome is not None:
            await outcome
        self.is_acked = True
