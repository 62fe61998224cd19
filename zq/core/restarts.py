"""Restart intensity for supervisors (Erlang's ``max_restarts`` within a window). Pure."""

from __future__ import annotations

from collections import deque


class RestartIntensity:
    """Allows at most ``max_restarts`` restarts in any ``window_s`` seconds."""

    def __init__(self, max_restarts: int, window_s: float) -> None:
        if max_restarts < 0 or window_s <= 0:
            raise ValueError("max_restarts must be >= 0 and window_s > 0")
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._at: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now`` if the limit allows it; False means give up."""
        while self._at and self._at[0] <= now - self.window_s:
            self._at.popleft()
        if len(self._at) >= self.max_restarts:
            return False
        self._at.append(now)
        return True

    def recent(self, now: float) -> int:
        """Restarts within the window ending at ``now``."""
        return sum(1 for at in self._at if at > now - self.window_s)
