"""``TaskiqFormatter``: turns a ``TaskiqMessage`` into a ``BrokerMessage`` and back."""

from __future__ import annotations

from abc import ABC, abstractmethod

from zq.message import BrokerMessage, TaskiqMessage


class TaskiqFormatter(ABC):
    """taskiq's formatter interface.

    zq's wire format is its own protocol (``zq.core.messages``); a formatter is only used where
    user code calls ``broker.formatter`` itself.
    """

    @abstractmethod
    def dumps(self, message: TaskiqMessage) -> BrokerMessage:
        """Encode a message."""

    @abstractmethod
    def loads(self, message: bytes) -> TaskiqMessage:
        """Decode a message."""
