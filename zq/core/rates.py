"""Rate limits: when the next task of a bucket may start, so that no period holds more than N.

Pure: the caller passes the time. A ``rate_limit`` of ``"N/s"`` (``/m``, ``/h``) allows at most
N starts in any window of one period, per bucket (the task's name, and its ``rate_limit_key``
when given). Burst: up to N at once after a quiet period; then the next when the oldest of the
last N leaves the window. The dispatcher holds each task until its release time (like a
``delay``), and releases of one bucket keep the order the tasks came in.
"""

from __future__ import annotations

from collections import deque

Bucket = tuple[str, str]  # (task name, rate_limit_key or "")


class RateLimits:
    """The release times given to each bucket's last N tasks."""

    def __init__(self) -> None:
        self._released: dict[Bucket, deque[float]] = {}

    def release_at(self, bucket: Bucket, count: int, period_s: float, earliest: float) -> float:
        """When a task of ``bucket`` (limit ``count`` per ``period_s``) may start, >= earliest."""
        last = self._released.get(bucket)
        if last is None:
            last = self._released[bucket] = deque(maxlen=count)
        elif last.maxlen != count:  # the limit changed: keep the most recent releases
            last = self._released[bucket] = deque(last, maxlen=count)
        at = earliest
        if last:
            at = max(at, last[-1])  # in the order they came
            if len(last) == count:
                at = max(at, last[0] + period_s)  # the N-th before it has left the window
        last.append(at)
        return at

    def forget_before(self, now: float, longest_period_s: float) -> None:
        """Drop buckets whose last release is older than any window (they start afresh)."""
        stale = [b for b, q in self._released.items() if not q or q[-1] + longest_period_s < now]
        for bucket in stale:
            del self._released[bucket]
