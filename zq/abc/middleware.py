"""``TaskiqMiddleware``: hooks around sending, executing and saving tasks.

Every hook may be sync or async. A hook that a middleware does not override costs nothing:
the broker keeps, per hook, only the middlewares that override it (``zq.abc.broker.Hooks``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker
    from zq.message import TaskiqMessage
    from zq.result import TaskiqResult

HOOKS = (
    "startup",
    "shutdown",
    "pre_send",
    "post_send",
    "pre_execute",
    "post_execute",
    "on_error",
    "post_save",
)


class TaskiqMiddleware:
    """Base class for middlewares (taskiq's hooks, same order rules).

    ``pre_send`` and ``pre_execute`` run in the order the middlewares were added; the others
    (``post_send``, ``post_execute``, ``on_error``, ``post_save``) run in reverse order. A hook
    that raises is logged and skipped: it never loses the task, its result or its ack.
    """

    def __init__(self) -> None:
        self.broker: AsyncBroker = None  # type: ignore[assignment]  # set by add_middlewares

    def set_broker(self, broker: AsyncBroker) -> None:
        """Remember the broker this middleware is added to."""
        self.broker = broker

    def startup(self) -> Coroutine[Any, Any, None] | None:
        """Called when the broker starts (client or worker)."""
        return None

    def shutdown(self) -> Coroutine[Any, Any, None] | None:
        """Called when the broker shuts down."""
        return None

    def pre_send(
        self, message: TaskiqMessage
    ) -> TaskiqMessage | Coroutine[Any, Any, TaskiqMessage]:
        """Client side, before the task is sent; returns the (possibly changed) message."""
        return message

    def post_send(self, message: TaskiqMessage) -> Coroutine[Any, Any, None] | None:
        """Client side, after the task was handed to the dispatcher."""
        return None

    def pre_execute(
        self, message: TaskiqMessage
    ) -> TaskiqMessage | Coroutine[Any, Any, TaskiqMessage]:
        """Worker side, before the task runs; returns the (possibly changed) message."""
        return message

    def post_execute(
        self, message: TaskiqMessage, result: TaskiqResult[Any]
    ) -> Coroutine[Any, Any, None] | None:
        """Worker side, after the task ran (successfully or not)."""
        return None

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> Coroutine[Any, Any, None] | None:
        """Worker side, when the task raised ``exception``."""
        return None

    def post_save(
        self, message: TaskiqMessage, result: TaskiqResult[Any]
    ) -> Coroutine[Any, Any, None] | None:
        """Worker side, once the result is handed to zq to be sent to the dispatcher."""
        return None


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
