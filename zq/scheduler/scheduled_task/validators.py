"""taskiq's schedule validators, on zq's timetable rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from zq.core.timetable import Timetable

__all__ = ["discriminate_offset", "validate_interval_value"]


def validate_interval_value(value: int | timedelta | None) -> None:
    """Raise ``ValueError`` unless ``value`` is a usable interval (None passes)."""
    if value is not None:
        Timetable(interval=value)


def discriminate_offset(value: Any) -> str:
    """Which kind of cron offset ``value`` is: ``"timedelta"`` or ``"str"`` (a zone name)."""
    return "timedelta" if isinstance(value, timedelta) else "str"
