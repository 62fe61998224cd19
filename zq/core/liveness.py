"""Who is alive: a heartbeat table. The caller passes ``now``; this module reads no clock.

Any message from a peer counts as a heartbeat from it. A peer we have heard nothing from for
``timeout_s`` is expired; a peer we have sent nothing to for ``interval_s`` is owed a heartbeat.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


class Liveness(Generic[P]):
    """Last-heard and last-sent times per peer."""

    def __init__(self, interval_s: float, timeout_s: float) -> None:
        if not 0 < interval_s < timeout_s:  # timeout_s may be infinite: only heartbeats owed
            raise ValueError("need 0 < interval_s < timeout_s")
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._heard: dict[P, float] = {}
        self._sent: dict[P, float] = {}

    def heard(self, peer: P, now: float) -> None:
        """Record that ``peer`` said something at ``now``."""
        self._heard[peer] = now

    def sent(self, peer: P, now: float) -> None:
        """Record that we said something to ``peer`` at ``now``."""
        self._sent[peer] = now

    def forget(self, peer: P) -> None:
        """Stop tracking ``peer``."""
        self._heard.pop(peer, None)
        self._sent.pop(peer, None)

    def expired(self, now: float) -> list[P]:
        """Peers silent for longer than ``timeout_s``; they are forgotten."""
        limit = now - self.timeout_s
        dead = [p for p, at in self._heard.items() if at < limit]
        for peer in dead:
            self.forget(peer)
        return dead

    def owed(self, now: float) -> list[P]:
        """Peers we have sent nothing to for ``interval_s``: they are owed a heartbeat."""
        limit = now - self.interval_s
        return [p for p in self._heard if self._sent.get(p, -1e300) <= limit]

    def silent_for(self, peer: P, now: float) -> float:
        """Seconds since ``peer`` last said something (infinite if never heard)."""
        at = self._heard.get(peer)
        return now - at if at is not None else float("inf")

    def quiet_for(self, peer: P, now: float) -> float:
        """Seconds since we last said something to ``peer`` (infinite if never)."""
        at = self._sent.get(peer)
        return now - at if at is not None else float("inf")

    def __contains__(self, peer: object) -> bool:
        return peer in self._heard

    def __len__(self) -> int:
        return len(self._heard)
