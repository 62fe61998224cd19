"""pickle: opt-in only.

Warning: unpickling runs code chosen by whoever produced the bytes. With this serializer any
peer that can reach the dispatcher can run arbitrary code on every worker. Use it only on a
network where every peer is trusted, and prefer msgpack or JSON.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

from zq.serializers.base import TaskiqSerializer

log = logging.getLogger("zq.serializers")


class PickleSerializer(TaskiqSerializer):
    """pickle; logs a warning when created (see the module docstring)."""

    def __init__(self) -> None:
        log.warning("PickleSerializer in use: any peer that can send tasks can run code here")

    def dumpb(self, value: Any) -> bytes:
        """Pickle ``value``."""
        return pickle.dumps(value)

    def loadb(self, value: bytes) -> Any:
        """Unpickle ``value`` (runs code chosen by the sender)."""
        return pickle.loads(value)
