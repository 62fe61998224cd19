"""What the ledger decided (``zq.core.ledger``): its answers to a result, a cancel, a loss.

Pure, read and never changed by the actors that perform them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import msgspec

from zq.core.entry import Entry as _Entry
from zq.core.messages import TaskMsg


class Completion(msgspec.Struct, gc=False):  # made once per result: a third of a dataclass
    """What ``complete`` decided (read, never changed).

    ``accepted``: the first result, the task is done. ``duplicate``: it was already done.
    ``retried``: this run ended and the task's successor took its place.
    """

    outcome: Literal["accepted", "duplicate", "retried"]
    origin: bytes | None = None
    task: TaskMsg | None = None
    entry: _Entry | None = None  # what the ledger held (its times, for the history)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A task taken out of circulation, and why."""

    task: TaskMsg
    origin: bytes | None
    reason: str
    error: str = "DeliveryLimitError"  # the zq.exceptions class its caller gets


@dataclass(slots=True, frozen=True)
class Lost:
    """What losing an executor (or its ``Bye``) did: tasks requeued, dead-lettered, cancelled.

    ``cancelled``: tasks cancelled while leased to it, which end now (rule 11).
    """

    requeued: list[str]
    dead: list[DeadLetter]
    cancelled: list[tuple[TaskMsg, bytes | None]] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class Cancelling:
    """What ``cancel`` decided: ``outcome`` is ``cancelled``, ``cancelling`` or ``unknown``.

    ``holder``: the executor to tell, for a task that is leased.
    """

    outcome: Literal["cancelled", "cancelling", "unknown"]
    task: TaskMsg | None = None
    origin: bytes | None = None
    holder: bytes | None = None
