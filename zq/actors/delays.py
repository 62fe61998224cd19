"""Held tasks: when each is due (``delay``, ``rate_limit``), and the one timer for them.

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
from zq.core.rates import RateLimits

log = logging.getLogger("zq.dispatcher")

TIMED = frozenset({"delay", "rate_limit"})  # the labels that may hold a task here


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
        self._rates = RateLimits()

    def due(self, task: TaskMsg) -> float | None:
        """When a task with a ``delay`` or ``rate_limit`` label may run; None for now."""
        labels = task.labels
        due = None
        if "delay" in labels:
            delay = zq_labels.delay_s(labels)
            if delay is not None:
                due = self._now() + delay
            elif zq_labels.problem("delay", labels["delay"]) is not None:
                log.warning("task %s: ignoring bad delay %r", task.task_id, labels["delay"])
        limit = zq_labels.rate(labels["rate_limit"]) if "rate_limit" in labels else None
        if limit is not None:
            now = self._now()
            bucket = (task.task_name, str(labels.get("rate_limit_key") or ""))
            at = self._rates.release_at(bucket, *limit, due if due is not None else now)
            due = at if at > now else None
        return due

    def arm(self) -> None:
        """Make sure the timer fires by the earliest due time."""
        due = self._ledger.next_due()
        if due is not None and (self._release_at is None or due < self._release_at):
            self._release_at = due
            self._send_after(max(0.0, due - self._now()), Release())

    def fired(self) -> bool:
        """The timer fired: queue what is due (whether any was), and arm it again."""
        self._release_at = None
        now = self._now()
        self._rates.forget_before(now, max(zq_labels.PERIODS.values()))  # idle buckets: afresh
        released = self._ledger.release(now) > 0
        self.arm()
        return released
