"""JSON through msgspec."""

from __future__ import annotations

from typing import Any

import msgspec

from zq.serializers.base import TaskiqSerializer, exact_bytes
from zq.serializers.hooks import enc_hook


class JSONSerializer(TaskiqSerializer):
    """JSON; bytes values are not representable (use msgpack for those)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook)
        self._decoder = msgspec.json.Decoder()

    def dumpb(self, value: Any) -> bytes:
        """Encode ``value`` as JSON."""
        return exact_bytes(self._encoder, value)

    def loadb(self, value: bytes) -> Any:
        """Decode JSON bytes."""
        return self._decoder.decode(value)
