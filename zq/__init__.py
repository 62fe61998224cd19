"""zq: a brokerless distributed task queue over ZeroMQ, with taskiq's API."""

from zq.backends import AsyncResultBackend
from zq.broker import AsyncBroker
from zq.brokers.inmemory_broker import InMemoryBroker
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.decor import AsyncTaskiqDecoratedTask
from zq.exceptions import (
    NoResultError,
    ResultGetError,
    ResultIsReadyError,
    SecurityError,
    SendTaskError,
    TaskiqError,
    TaskiqResultTimeoutError,
)
from zq.funcs import gather
from zq.kicker import AsyncKicker
from zq.result import TaskiqResult
from zq.task import AsyncTaskiqTask

__version__ = "0.1.0"

__all__ = [
    "AsyncBroker",
    "AsyncKicker",
    "AsyncResultBackend",
    "AsyncTaskiqDecoratedTask",
    "AsyncTaskiqTask",
    "InMemoryBroker",
    "NoResultError",
    "ResultGetError",
    "ResultIsReadyError",
    "SecurityError",
    "SendTaskError",
    "TaskiqError",
    "TaskiqResult",
    "TaskiqResultTimeoutError",
    "ZeroMQBroker",
    "__version__",
    "gather",
]
