"""``zq.abc.broker``: where taskiq code imports ``AsyncBroker`` and ``AckableMessage`` from."""

from zq.acks import AckableMessage
from zq.broker import AsyncBroker

__all__ = ["AckableMessage", "AsyncBroker"]
