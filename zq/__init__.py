"""zq: a brokerless distributed task queue over ZeroMQ, with taskiq's API.

Every name taskiq exports from its top-level package is here under the same name; the module
paths are listed in docs/coming-from-taskiq.md.
"""

from taskiq_dependencies import Depends as TaskiqDepends

from zq.abc.broker import AsyncBroker, ShutdownReport
from zq.abc.formatter import TaskiqFormatter
from zq.abc.middleware import TaskiqMiddleware
from zq.abc.result_backend import AsyncResultBackend
from zq.acks import AckableMessage, AcknowledgeType
from zq.brokers.inmemory_broker import InMemoryBroker
from zq.brokers.shared_broker import async_shared_broker, shared_task
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.context import Context
from zq.decor import AsyncTaskiqDecoratedTask
from zq.depends.progress_tracker import ProgressTracker, TaskProgress, TaskState
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

__version__ = "0.1.0"

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
