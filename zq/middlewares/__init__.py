"""Middlewares shipped with zq (``taskiq.middlewares`` becomes ``zq.middlewares``)."""

from zq.middlewares.prometheus_middleware import PrometheusMiddleware
from zq.middlewares.simple_retry_middleware import SimpleRetryMiddleware
from zq.middlewares.smart_retry_middleware import SmartRetryMiddleware

__all__ = ["PrometheusMiddleware", "SimpleRetryMiddleware", "SmartRetryMiddleware"]
