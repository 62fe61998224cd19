"""The serializer interface (taskiq's ``TaskiqSerializer``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import msgspec


class TaskiqSerializer(ABC):
    """Turns values into bytes and back."""

    @abstractmethod
    def dumpb(self, value: Any) -> bytes:
        """Encode ``value``."""

    @abstractmethod
    def loadb(self, value: bytes) -> Any:
        """Decode ``value``."""


def exact_bytes(encoder: msgspec.msgpack.Encoder | msgspec.json.Encoder, value: Any) -> bytes:
    """``encoder``'s encoding of ``value``, in a bytes object that holds nothing more.

    msgspec's ``encode`` returns its working buffer as it stands: grown by half again whenever
    it fills and never trimmed, so a 3-byte payload holds 32 bytes and a 10 KiB one 15 KiB, as
    long as its task waits in a queue. Encoding into a fresh bytearray and copying it out costs
    70-180 ns a call and gives that back (a buffer per call: serializers are shared by threads).
    """
    buffer = bytearray()
    encoder.encode_into(value, buffer)
    return bytes(buffer)
