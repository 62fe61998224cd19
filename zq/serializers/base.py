"""The serializer interface (taskiq's ``TaskiqSerializer``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class TaskiqSerializer(ABC):
    """Turns values into bytes and back."""

    @abstractmethod
    def dumpb(self, value: Any) -> bytes:
        """Encode ``value``."""

    @abstractmethod
    def loadb(self, value: bytes) -> Any:
        """Decode ``value``."""
