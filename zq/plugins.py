"""taskiq's own objects, recognised when taskiq is installed beside zq.

Plugins written for taskiq (taskiq-fastapi, dishka, taskiq-redis) import ``taskiq`` and hand zq
taskiq's objects: its ``TaskiqEvents`` members, its ``TaskiqMiddleware`` subclasses, parameters
annotated ``Annotated[taskiq.Context, TaskiqDepends()]`` (the receiver maps those). This module
maps them to zq's. It
never imports taskiq itself: if no module of the process did, there is nothing to recognise.
"""

from __future__ import annotations

import sys
from typing import Any

from zq.abc.middleware import TaskiqMiddleware
from zq.events import TaskiqEvents

__all__ = ["event_of", "middleware_base", "taskiq_object"]


def taskiq_object(module: str, name: str) -> Any:
    """``module.name`` of taskiq if that module is imported in this process, else None."""
    loaded = sys.modules.get(module)
    return None if loaded is None else getattr(loaded, name, None)


def event_of(event: Any) -> TaskiqEvents:
    """Zq's member for ``event``: zq's own, taskiq's member of the same name, or that name.

    Anything else is a ``ValueError`` naming it, at the call that registers a handler.
    """
    if isinstance(event, TaskiqEvents):
        return event
    value = getattr(event, "value", event)
    try:
        return TaskiqEvents(value)
    except ValueError:
        choices = ", ".join(member.value for member in TaskiqEvents)
        raise ValueError(f"unknown event {event!r}: expected one of {choices}") from None


def middleware_base(middleware: Any) -> type | None:
    """The ``TaskiqMiddleware`` class (zq's or taskiq's) that ``middleware`` is an instance of."""
    if isinstance(middleware, TaskiqMiddleware):
        return TaskiqMiddleware
    theirs = taskiq_object("taskiq.abc.middleware", "TaskiqMiddleware")
    if isinstance(theirs, type) and isinstance(middleware, theirs):
        return theirs
    return None
