"""Middlewares shipped with zq (``taskiq.middlewares`` becomes ``zq.middlewares``)."""

from typing import Any

from zq.middlewares.prometheus_middleware import PrometheusMiddleware
from zq.middlewares.simple_retry_middleware import SimpleRetryMiddleware
from zq.middlewares.smart_retry_middleware import SmartRetryMiddleware

__all__ = [
    "OpenTelemetryMiddleware",
    "PrometheusMiddleware",
    "SimpleRetryMiddleware",
    "SmartRetryMiddleware",
]


def __getattr__(name: str) -> Any:
    """``OpenTelemetryMiddleware`` on first use: it needs the optional opentelemetry-api."""
    if name == "OpenTelemetryMiddleware":
        from zq.middlewares.opentelemetry_middleware import OpenTelemetryMiddleware

        return OpenTelemetryMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
