"""Base classes under taskiq's module paths (``taskiq.abc.*`` becomes ``zq.abc.*``).

``AsyncBroker`` and ``AsyncResultBackend`` are also importable from here, as in taskiq; they are
loaded on first use, because ``zq.abc.broker`` sits above the modules that import the other
base classes of this package.
"""

from typing import Any

__all__ = ["AsyncBroker", "AsyncResultBackend"]


def __getattr__(name: str) -> Any:
    if name == "AsyncBroker":
        from zq.abc.broker import AsyncBroker

        return AsyncBroker
    if name == "AsyncResultBackend":
        from zq.abc.result_backend import AsyncResultBackend

        return AsyncResultBackend
    raise AttributeError(f"module 'zq.abc' has no attribute {name!r}")
