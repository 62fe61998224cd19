"""``CBORSerializer`` (taskiq's path); needs ``cbor2`` (``pip install zq[cbor]``)."""

from __future__ import annotations

from typing import Any

from zq.serializers.base import TaskiqSerializer
from zq.serializers.hooks import enc_hook

__all__ = ["CBORSerializer"]


class CBORSerializer(TaskiqSerializer):
    """CBOR through cbor2; pydantic models and paths as zq's other serializers carry them."""

    def __init__(self, **cbor2_options: Any) -> None:
        try:
            import cbor2
        except ImportError:
            raise ImportError("CBORSerializer needs cbor2: pip install 'zq[cbor]'") from None
        self._cbor2 = cbor2
        self._options = cbor2_options

    def dumpb(self, value: Any) -> bytes:
        """Encode ``value`` as CBOR."""
        default = self._options.get("default") or (lambda _enc, v: _enc.encode(enc_hook(v)))
        options = {**self._options, "default": default}
        return self._cbor2.dumps(value, **options)

    def loadb(self, value: bytes) -> Any:
        """Decode CBOR bytes."""
        return self._cbor2.loads(value)
