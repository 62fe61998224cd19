"""``TaskiqEvents``: the lifecycle events a broker calls handlers for."""

from __future__ import annotations

import enum


@enum.unique
class TaskiqEvents(enum.Enum):
    """When handlers run: client (producer) or worker start-up and shutdown."""

    WORKER_STARTUP = "WORKER_STARTUP"
    WORKER_SHUTDOWN = "WORKER_SHUTDOWN"
    CLIENT_STARTUP = "CLIENT_STARTUP"
    CLIENT_SHUTDOWN = "CLIENT_SHUTDOWN"
