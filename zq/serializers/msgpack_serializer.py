"""msgpack through msgspec: zq's default serializer."""

from __future__ import annotations

from typing import Any

import msgspec

from zq.serializers.base import TaskiqSerializer, exact_bytes
from zq.serializers.hooks import enc_hook


class MSGPackSerializer(TaskiqSerializer):
    """msgpack; one Encoder/Decoder per serializer, created once."""

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)
        self._decoder = msgspec.msgpack.Decoder()

    def dumpb(self, value: Any) -> bytes:
        """Encode ``value`` as msgpack."""
        return exact_bytes(self._encoder, value)

    def loadb(self, value: bytes) -> Any:
        """Decode msgpack bytes."""
        return self._decoder.decode(value)
