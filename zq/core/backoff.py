"""Exponential backoff with jitter. Pure: the caller passes the random draw."""

from __future__ import annotations


def backoff_s(
    attempt: int, *, base_s: float, max_s: float, jitter: float = 0.0, draw: float = 0.5
) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base_s * 2**attempt`` capped at ``max_s``.

    ``jitter`` in [0, 1] spreads the delay by up to that fraction either way; ``draw`` is a
    uniform random number in [0, 1) supplied by the caller, so the result is deterministic.
    """
    if attempt < 0 or base_s < 0 or max_s < 0 or not 0.0 <= jitter <= 1.0:
        raise ValueError("attempt, base_s and max_s must be >= 0 and jitter in [0, 1]")
    delay = min(max_s, base_s * (2.0 ** min(attempt, 64)))
    return max(0.0, delay * (1.0 + jitter * (2.0 * draw - 1.0)))
