"""zq's own labels: their names, the values each takes, and the one place they are read.

Labels are taskiq's: any key and value travel with a task. These few mean something to zq:

- ``queue``: the queue the task goes to (a non-empty string; default ``"default"``).
- ``delay``: seconds before the task may run (a number >= 0).
- ``timeout``: seconds one run may take before it fails (a number > 0, or None for none).
- ``max_deliveries``: how many times the task may be delivered before it is dead-lettered
  (a whole number >= 1).
- ``ack_type``: when its lease ends: ``when_received``, ``when_executed``, ``when_saved`` or
  ``manual`` (any case; ``zq.AcknowledgeType`` is a str).
- ``priority``: a whole number, higher runs first within a queue (default 0; negative runs
  after the default).
- ``concurrency_key`` (a non-empty string) and ``max_concurrency`` (a whole number >= 1,
  default 1): at most that many tasks with the key are leased at once, across the cluster.
- ``rate_limit``: ``"N/s"``, ``"N/m"`` or ``"N/h"`` (N >= 1): at most N starts per period,
  per task name, or per value of ``rate_limit_key`` (a non-empty string) when given.
- ``unique_key``: a non-empty string; while a task of that name and key is pending, delayed or
  running, another kick of it is the same task (same id, same result). ``unique_for`` (seconds,
  a number > 0): also for that long after it finished.
- ``stream_window``: for a generator task, how many of its items may be on their way to the
  reader at once before the task waits (a whole number >= 1; default
  ``zq.core.streams.DEFAULT_WINDOW``).

``check`` is called where the user writes them (``@broker.task(...)``, ``with_labels(...)``),
so a mistake fails at that line. The readers (``delay_s``, ``timeout_s``, ``max_deliveries``,
``ack_type``) are what the dispatcher, the ledger and the receiver use; a bad value that
arrives anyway (from a middleware's ``pre_send``, or an older peer) is read as "not set",
never as a lost task. Numbers may also be given as numeric strings, as some of taskiq's
brokers pass labels. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ACK_TYPES = ("when_received", "when_executed", "when_saved", "manual")


class LabelError(ValueError):
    """A zq label with a value zq cannot use; the message names the label and what it takes."""


def _number(value: Any) -> float | None:
    """``value`` as a finite number, or None (bools are not numbers here: they are mistakes)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        return number if math.isfinite(number) else None
    return None


def _check_queue(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _check_delay(value: Any) -> str | None:
    number = _number(value)
    return None if number is not None and number >= 0 else "a number of seconds >= 0"


def _check_timeout(value: Any) -> str | None:
    if value is None:
        return None
    number = _number(value)
    return None if number is not None and number > 0 else "a number of seconds > 0, or None"


def _check_max_deliveries(value: Any) -> str | None:
    number = _number(value)
    whole = number is not None and number == int(number) and number >= 1
    return None if whole else "a whole number >= 1"


def _check_ack_type(value: Any) -> str | None:
    if isinstance(value, str) and value.lower() in ACK_TYPES:
        return None
    return "one of " + ", ".join(ACK_TYPES)


def _check_priority(value: Any) -> str | None:
    number = _number(value)
    whole = number is not None and number == int(number)
    return None if whole else "a whole number (higher runs first)"


def _check_unique_key(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _check_max_concurrency(value: Any) -> str | None:
    number = _number(value)
    whole = number is not None and number == int(number) and number >= 1
    return None if whole else "a whole number >= 1"


PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def rate(value: Any) -> tuple[int, float] | None:
    """``(N, period in seconds)`` from ``"N/s"``, ``"N/m"`` or ``"N/h"``; None if malformed."""
    if not isinstance(value, str):
        return None
    count, sep, unit = value.replace(" ", "").partition("/")
    if not sep or unit not in PERIODS or not count.isdigit() or int(count) < 1:
        return None
    return int(count), PERIODS[unit]


def _check_unique_for(value: Any) -> str | None:
    number = _number(value)
    return None if number is not None and number > 0 else "a number of seconds > 0"


def _check_rate_limit(value: Any) -> str | None:
    return None if rate(value) is not None else 'a rate like "100/s", "30/m" or "1000/h"'


def _check_depends_on(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(i, str) and i for i in value)
    return None if ok else "a list of task ids (AsyncKicker.depends_on takes handles too)"


_CHECKS = {
    "queue": _check_queue,
    "delay": _check_delay,
    "timeout": _check_timeout,
    "max_deliveries": _check_max_deliveries,
    "ack_type": _check_ack_type,
    "priority": _check_priority,
    "unique_key": _check_unique_key,
    "concurrency_key": _check_unique_key,  # the same rule: a non-empty string
    "max_concurrency": _check_max_concurrency,
    "rate_limit": _check_rate_limit,
    "rate_limit_key": _check_unique_key,  # a non-empty string
    "unique_for": _check_unique_for,
    "depends_on": _check_depends_on,
    "stream_window": _check_max_concurrency,  # the same rule: a whole number >= 1
}


def problem(name: str, value: Any) -> str | None:
    """What label ``name`` must be, if ``value`` is not that; None if it is fine (or not zq's)."""
    rule = _CHECKS.get(name)
    return None if rule is None else rule(value)


def check(labels: Mapping[str, Any]) -> None:
    """Raise ``LabelError`` for the first of zq's labels in ``labels`` with a bad value."""
    for name, value in labels.items():
        if (expected := problem(name, value)) is not None:
            raise LabelError(f"label {name!r} must be {expected}, not {value!r}")


def delay_s(labels: Mapping[str, Any]) -> float | None:
    """Seconds to wait before the task may run, or None for "now" (absent, zero or bad)."""
    number = _number(labels.get("delay"))
    return number if number is not None and number > 0 else None


def timeout_s(labels: Mapping[str, Any]) -> float | None:
    """Seconds a run may take, or None for no limit (absent or bad)."""
    number = _number(labels.get("timeout"))
    return number if number is not None and number > 0 else None


def max_deliveries(labels: Mapping[str, Any], default: int) -> int:
    """The task's delivery limit: its label if usable, else ``default``."""
    if "max_deliveries" not in labels:
        return default
    number = _number(labels["max_deliveries"])
    return max(1, int(number)) if number is not None else default


def ack_type(labels: Mapping[str, Any], default: str) -> str:
    """The task's ``ack_type`` (lower case), else ``default`` (absent or bad)."""
    value = labels.get("ack_type")
    if isinstance(value, str) and value.lower() in ACK_TYPES:
        return value.lower()
    return default


def priority(labels: Mapping[str, Any]) -> int:
    """The task's priority: its label if usable, else 0."""
    value = labels.get("priority")
    if value is None:
        return 0
    number = _number(value)
    return int(number) if number is not None and number == int(number) else 0


def unique_id(task_name: str, labels: Mapping[str, Any]) -> str | None:
    """The task id every kick of ``task_name`` with this ``unique_key`` shares, or None."""
    key = labels.get("unique_key")
    return f"unique:{task_name}:{key}" if isinstance(key, str) and key else None


def unique_for_s(labels: Mapping[str, Any]) -> float | None:
    """How long a finished unique task still answers kicks of its key, or None (not kept)."""
    number = _number(labels.get("unique_for"))
    return number if number is not None and number > 0 else None


def concurrency_key(labels: Mapping[str, Any]) -> str | None:
    """The task's concurrency key, or None (absent or bad)."""
    key = labels.get("concurrency_key")
    return key if isinstance(key, str) and key else None


def stream_window(labels: Mapping[str, Any], default: int) -> int:
    """The ``stream_window`` label, or ``default`` if it is not set or malformed."""
    value = _number(labels.get("stream_window"))
    return int(value) if value is not None and value >= 1 else default


def max_concurrency(labels: Mapping[str, Any]) -> int:
    """How many tasks of the task's concurrency key may run at once (default 1)."""
    number = _number(labels.get("max_concurrency", 1))
    return int(number) if number is not None and number >= 1 else 1
