"""Calling user code that may be sync or async, isolated so that it cannot lose a task."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("zq.middleware")


async def maybe_await(value: Any) -> Any:
    """``await value`` if it is awaitable, else ``value``."""
    if inspect.isawaitable(value):
        return await value
    return value


async def call_hooks(middlewares: Iterable[Any], hook: str, *args: Any) -> None:
    """Call ``hook`` on each middleware; one that raises is logged and the others still run."""
    for middleware in middlewares:
        try:
            await maybe_await(getattr(middleware, hook)(*args))
        except Exception:
            log.exception("%s.%s raised; ignored", type(middleware).__name__, hook)


async def pipe_hooks(middlewares: Iterable[Any], hook: str, message: Any) -> Any:
    """Pass ``message`` through ``hook`` of each middleware (``pre_send``, ``pre_execute``).

    A middleware that raises, or returns None, is logged and leaves the message as it was.
    """
    for middleware in middlewares:
        try:
            changed = await maybe_await(getattr(middleware, hook)(message))
        except Exception:
            log.exception("%s.%s raised; message unchanged", type(middleware).__name__, hook)
            continue
        if changed is None:
            log.warning("%s.%s returned None; message unchanged", type(middleware).__name__, hook)
        else:
            message = changed
    return message
