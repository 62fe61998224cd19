"""Small helpers at taskiq's ``taskiq.utils`` path."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["maybe_awaitable"]

_T = TypeVar("_T")


async def maybe_awaitable(possible_coroutine: _T | Awaitable[_T]) -> _T:
    """The value, awaited first if it is awaitable (for hooks that may be sync or async)."""
    if inspect.isawaitable(possible_coroutine):
        return await possible_coroutine
    return possible_coroutine
