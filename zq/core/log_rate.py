"""How often a repeated event is logged: the first ten times, then every thousandth. Pure.

An operator needs to see that something happens and roughly how often, not a line per
occurrence from a peer that sends garbage in a loop; the count goes with each line.
"""

from __future__ import annotations

FIRST = 10
EVERY = 1000


def worth_logging(count: int) -> bool:
    """Whether the ``count``-th occurrence (1-based) of an event gets a log line."""
    return count <= FIRST or count % EVERY == 0
