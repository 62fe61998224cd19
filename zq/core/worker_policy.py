"""The worker supervisor's decisions, kept pure.

What a signal means, when a reload burst ends, how a process's concurrency is jittered. No
clock and no I/O: the caller passes ``now`` and its random draws.
"""

from __future__ import annotations

import enum


class SignalAction(enum.Enum):
    """What the supervisor does on the n-th SIGINT/SIGTERM."""

    GRACEFUL = "graceful"  # stop taking tasks, hand back prefetched ones, let running ones finish
    CANCEL = "cancel"  # cancel running tasks and hand them back
    KILL = "kill"  # SIGKILL the children and exit at once


def signal_action(count: int, hardkill_count: int) -> SignalAction:
    """The action for the ``count``-th signal (1-based) when ``hardkill_count`` kills.

    The ``hardkill_count``-th signal is the kill, whatever came before (so with 2, the second
    signal already kills; with 1, the first does).
    """
    if hardkill_count < 1:
        raise ValueError("hardkill_count must be at least 1")
    if count >= hardkill_count:
        return SignalAction.KILL
    return SignalAction.GRACEFUL if count <= 1 else SignalAction.CANCEL


class ReloadBurst:
    """Coalesces a burst of file changes into one reload.

    ``change(now)`` records a change and returns when to look again; ``due(now)`` is True once,
    when ``quiet_s`` have passed since the last change of the burst.
    """

    def __init__(self, quiet_s: float) -> None:
        if quiet_s <= 0:
            raise ValueError("quiet_s must be positive")
        self.quiet_s = quiet_s
        self._last: float | None = None

    def change(self, now: float) -> float:
        """Record a change at ``now``; returns the time at which to call ``due``."""
        self._last = now
        return now + self.quiet_s

    def due(self, now: float) -> bool:
        """Whether the burst is over (then it is consumed: the next change starts a new one)."""
        if self._last is None or now - self._last < self.quiet_s:
            return False
        self._last = None
        return True


def jittered(limit: int, jitter: int, draw: float) -> int:
    """``limit`` plus a whole number from 0 to ``jitter`` chosen by ``draw`` in [0, 1)."""
    if jitter < 0:
        raise ValueError("jitter must not be negative")
    return limit + min(jitter, int(draw * (jitter + 1)))
