"""Results kept by the producer: the first result per task wins, bounded in count and age.

Pure: the caller passes ``now``. The ResultStore actor (``zq.actors.results``) wraps it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

R = TypeVar("R")


class ResultTable(Generic[R]):
    """Task id -> result, in arrival order.

    Results expire after ``ttl_s``; at most ``max_results`` are kept (the oldest go first).
    """

    def __init__(self, max_results: int, ttl_s: float) -> None:
        if max_results < 1 or ttl_s <= 0:
            raise ValueError("max_results must be >= 1 and ttl_s > 0")
        self.max_results = max_results
        self.ttl_s = ttl_s
        self._rows: OrderedDict[str, tuple[float, R]] = OrderedDict()
        self.duplicates = 0
        self.evicted = 0

    def put(self, task_id: str, result: R, now: float) -> bool:
        """Store the first result for ``task_id``; a later one is counted and dropped."""
        if task_id in self._rows:
            self.duplicates += 1
            return False
        self._rows[task_id] = (now, result)
        if len(self._rows) > self.max_results:
            self._rows.popitem(last=False)
            self.evicted += 1
        return True

    def replace(self, task_id: str, value: R, now: float) -> None:
        """Store ``value`` for ``task_id``, replacing (and renewing) any earlier one."""
        self._rows.pop(task_id, None)
        self._rows[task_id] = (now, value)
        if len(self._rows) > self.max_results:
            self._rows.popitem(last=False)
            self.evicted += 1

    def discard(self, task_id: str) -> None:
        """Forget the result of ``task_id``, if any."""
        self._rows.pop(task_id, None)

    def get(self, task_id: str) -> R | None:
        """The stored result, or None."""
        row = self._rows.get(task_id)
        return row[1] if row is not None else None

    def get_all(self, task_ids: list[str]) -> list[R | None]:
        """The stored result of each of ``task_ids`` (None where there is none), in order."""
        rows = self._rows
        return [row[1] if (row := rows.get(i)) is not None else None for i in task_ids]

    def stored_at(self, task_id: str) -> float | None:
        """When the result of ``task_id`` was stored (the ``now`` it was put with), or None."""
        row = self._rows.get(task_id)
        return row[0] if row is not None else None

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def expire(self, now: float) -> int:
        """Drop results older than ``ttl_s``; returns how many went."""
        limit = now - self.ttl_s
        rows = self._rows
        gone = 0
        while rows:
            first = next(iter(rows.values()))
            if first[0] > limit:
                break
            rows.popitem(last=False)
            gone += 1
        self.evicted += gone
        return gone
