"""``JSONFormatter``: a task message as JSON (taskiq's ``taskiq.formatters.json_formatter``)."""

from __future__ import annotations

import msgspec

from zq.abc.formatter import TaskiqFormatter
from zq.message import BrokerMessage, TaskiqMessage
from zq.serializers.hooks import enc_hook

__all__ = ["JSONFormatter"]


class JSONFormatter(TaskiqFormatter):
    """Encodes the whole ``TaskiqMessage`` as JSON, whatever the broker's serializer."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook)
        self._decoder = msgspec.json.Decoder(TaskiqMessage, strict=False)

    def dumps(self, message: TaskiqMessage) -> BrokerMessage:
        """The message as JSON bytes."""
        return BrokerMessage(
            task_id=message.task_id,
            task_name=message.task_name,
            message=self._encoder.encode(message),
            labels=message.labels,
        )

    def loads(self, message: bytes) -> TaskiqMessage:
        """The message the JSON bytes hold."""
        return self._decoder.decode(message)
