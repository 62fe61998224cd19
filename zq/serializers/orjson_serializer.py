"""``ORJSONSerializer`` (taskiq's path); needs ``orjson`` (``pip install zq[orjson]``)."""

from __future__ import annotations

from typing import Any

from zq.serializers.base import TaskiqSerializer
from zq.serializers.hooks import enc_hook

__all__ = ["ORJSONSerializer"]


class ORJSONSerializer(TaskiqSerializer):
    """JSON through orjson; pydantic models and paths as zq's other serializers carry them."""

    def __init__(self, option: int | None = None) -> None:
        try:
            import orjson
        except ImportError:
            raise ImportError("ORJSONSerializer needs orjson: pip install 'zq[orjson]'") from None
        self._orjson = orjson
        self._option = option

    def dumpb(self, value: Any) -> bytes:
        """Encode ``value`` as JSON."""
        return self._orjson.dumps(value, default=enc_hook, option=self._option)

    def loadb(self, value: bytes) -> Any:
        """Decode JSON bytes."""
        return self._orjson.loads(value)
