"""``ProxyFormatter``: the default formatter, encoding with the broker's serializer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from zq.abc.formatter import TaskiqFormatter
from zq.message import BrokerMessage, TaskiqMessage

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker


class ProxyFormatter(TaskiqFormatter):
    """Encodes the whole message with ``broker.serializer``."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker

    def dumps(self, message: TaskiqMessage) -> BrokerMessage:
        """The message, encoded."""
        return BrokerMessage(
            task_id=message.task_id,
            task_name=message.task_name,
            message=self.broker.serializer.dumpb(msgspec.structs.asdict(message)),
            labels=message.labels,
        )

    def loads(self, message: bytes) -> TaskiqMessage:
        """The message, decoded."""
        return msgspec.convert(self.broker.serializer.loadb(message), TaskiqMessage, strict=False)
