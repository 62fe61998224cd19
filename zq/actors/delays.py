"""Delayed tasks: when each is due, and the one timer that wakes the dispatcher for them.

Part of the dispatcher (it owns one and is the only caller); the ledger keeps the delayed
tasks themselves (``Ledger.release``, ``Ledger.next_due``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zq.core import labels as zq_labels
from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg

log = logging.getLogger("zq.dispatcher")


@dataclass(slots=True, frozen=True)
class Release:
    """Timer message: delayed tasks may be due (``Delays.fired``)."""


class Delays:
    """Reads ``delay`` labels and keeps one timer armed for the earliest due task."""

    def __init__(
        self,
        ledger: Ledger,
        send_after: Callable[[float, Any], None],
        now: Callable[[], float],
    ) -> None:
        self._ledger = ledger
        self._send_after = send_after
        self._now = now
        self._release_at: float | None = None

    def due(self, task: TaskMsg) -> float | None:
        """The time a task with a ``delay`` label (seconds) is due, or None to run it now."""
        delay = zq_labels.delay_s(task.labels)
        if delay is None:
            if zq_labels.problem("delay", task.labels["delay"]) is not None:
                log.warning("task %s: ignoring bad delay %r", task.task_id, task.labels["delay"])
            return None
        return self._now() + delay

    def arm(self) -> None:
        """Make sure the timer fires by the earliest due time."""
        due = self._ledger.next_due()
        if due is not None and (self._release_at is None or due < self._release_at):
            self._release_at = due
            self._send_after(max(0.0, due - self._now()), Release())

    def fired(self) -> bool:
        """The timer fired: queue what is due (whether any was), and arm it again."""
        self._release_at = None
        released = self._ledger.release(self._now()) > 0
        self.arm()
        return released
