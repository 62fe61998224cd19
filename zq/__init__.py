"""zq: a brokerless distributed task queue over ZeroMQ, with taskiq's API.

Every name taskiq exports from its top-level package is here under the same name; the module
paths are listed in docs/coming-from-taskiq.md.

``TaskiqDepends`` and ``ProgressTracker`` load on first use: ``taskiq_dependencies`` imports
FastAPI whenever FastAPI is installed (0.3 s on a 2-core machine), and most processes (the
supervisor, the CLI, a worker whose tasks take no dependencies) never need it.
"""

import importlib
from typing import TYPE_CHECKING, Any

from zq.abc.broker import AsyncBroker, ShutdownReport
from zq.abc.formatter import TaskiqFormatter
from zq.abc.middleware import TaskiqMiddleware
from zq.abc.result_backend import AsyncResultBackend
from zq.acks import AckableMessage, AcknowledgeType
from zq.brokers.inmemory_broker import InMemoryBroker
from zq.brokers.shared_broker import async_shared_broker, shared_task
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.context import Context
from zq.core.progress import TaskProgress, TaskState
from zq.decor import AsyncTaskiqDecoratedTask
from zq.events import TaskiqEvents
from zq.exceptions import (
    NoResultError,
    ResultGetError,
    ResultIsReadyError,
    SecurityError,
    SendTaskError,
    TaskBrokerMismatchError,
    TaskiqError,
    TaskiqResultTimeoutError,
    TaskRejectedError,
    UnknownTaskError,
)
from zq.funcs import gather
from zq.kicker import AsyncKicker
from zq.message import BrokerMessage, TaskiqMessage
from zq.middlewares import PrometheusMiddleware, SimpleRetryMiddleware, SmartRetryMiddleware
from zq.result import TaskiqResult
from zq.scheduler import (
    CreatedSchedule,
    LabelScheduleSource,
    ScheduledTask,
    ScheduledTaskCancelledError,
    ScheduleSource,
    TaskiqScheduler,
)
from zq.scheduling.sqlite_source import SQLiteScheduleSource
from zq.state import TaskiqState
from zq.task import AsyncTaskiqTask

if TYPE_CHECKING:
    from taskiq_dependencies import Depends as TaskiqDepends

    from zq.depends.progress_tracker import ProgressTracker

__version__ = "0.1.0"

_LAZY = {
    "TaskiqDepends": ("taskiq_dependencies", "Depends"),
    "ProgressTracker": ("zq.depends.progress_tracker", "ProgressTracker"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'zq' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "AckableMessage",
    "AcknowledgeType",
    "AsyncBroker",
    "AsyncKicker",
    "AsyncResultBackend",
    "AsyncTaskiqDecoratedTask",
    "AsyncTaskiqTask",
    "BrokerMessage",
    "Context",
    "CreatedSchedule",
    "InMemoryBroker",
    "LabelScheduleSource",
    "NoResultError",
    "ProgressTracker",
    "PrometheusMiddleware",
    "ResultGetError",
    "ResultIsReadyError",
    "SQLiteScheduleSource",
    "ScheduleSource",
    "ScheduledTask",
    "ScheduledTaskCancelledError",
    "SecurityError",
    "SendTaskError",
    "ShutdownReport",
    "SimpleRetryMiddleware",
    "SmartRetryMiddleware",
    "TaskBrokerMismatchError",
    "TaskProgress",
    "TaskRejectedError",
    "TaskState",
    "TaskiqDepends",
    "TaskiqError",
    "TaskiqEvents",
    "TaskiqFormatter",
    "TaskiqMessage",
    "TaskiqMiddleware",
    "TaskiqResult",
    "TaskiqResultTimeoutError",
    "TaskiqScheduler",
    "TaskiqState",
    "UnknownTaskError",
    "ZeroMQBroker",
    "__version__",
    "async_shared_broker",
    "gather",
    "shared_task",
]
