"""The dispatcher's gauges for Prometheus: queue depth per queue, running tasks, workers...

Served by ``PrometheusMiddleware(dispatcher_port=...)`` in the process that binds the
dispatcher, on an endpoint of its own (the workers' task metrics are on ``server_port``). What
a horizontal autoscaler (KEDA's Prometheus scaler) scales ``zq worker`` on.

Read at scrape time only, so the dispatcher's hot path pays nothing: Prometheus's HTTP thread
asks the dispatcher through its event loop (``broker.metrics()``) and waits for the answer.

Metric names: ``zq_queue_depth{queue}`` (tasks waiting in the dispatcher), ``zq_tasks_delayed``,
``zq_tasks_running`` (leased to workers), ``zq_workers`` (executor processes connected),
``zq_dead_letters`` (held now); counters ``zq_tasks_submitted_total``,
``zq_tasks_completed_total``, ``zq_tasks_dead_lettered_total``, ``zq_tasks_cancelled_total``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

log = logging.getLogger("zq.prometheus")

SCRAPE_TIMEOUT_S = 5.0
GAUGES = {
    "delayed": ("zq_tasks_delayed", "Tasks held in the dispatcher until their time"),
    "running": ("zq_tasks_running", "Tasks leased to workers"),
    "workers": ("zq_workers", "Worker (executor) processes connected"),
    "dead_letters": ("zq_dead_letters", "Dead letters held by the dispatcher"),
}
COUNTERS = {
    "submitted": ("zq_tasks_submitted", "Tasks the dispatcher accepted"),
    "completed": ("zq_tasks_completed", "Tasks that finished with a result"),
    "dead_lettered": ("zq_tasks_dead_lettered", "Tasks taken out of circulation"),
    "cancelled": ("zq_tasks_cancelled", "Tasks ended by a cancel before they ran"),
}


class DispatcherCollector:
    """A prometheus_client collector reading ``metrics()`` on the dispatcher's loop."""

    def __init__(
        self, metrics: Callable[[], Awaitable[dict[str, Any]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._metrics = metrics
        self._loop = loop

    def describe(self) -> list[Any]:
        """Nothing to describe ahead: ``collect`` must never run on the event loop's thread."""
        return []

    def collect(self) -> Iterator[Any]:
        """The dispatcher's figures now (from Prometheus's HTTP thread)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        async def ask() -> dict[str, Any]:
            return await self._metrics()

        try:
            figures = asyncio.run_coroutine_threadsafe(ask(), self._loop).result(SCRAPE_TIMEOUT_S)
        except Exception as exc:  # a stopped or stuck dispatcher: an empty scrape, said once
            log.warning("dispatcher metrics unavailable: %s", exc or type(exc).__name__)
            return
        if not figures:
            return
        depth = GaugeMetricFamily(
            "zq_queue_depth", "Tasks waiting in the dispatcher, by queue", labels=["queue"]
        )
        for queue, count in sorted(figures["pending"].items()):
            depth.add_metric([queue], count)
        yield depth
        for key, (name, text) in GAUGES.items():
            yield GaugeMetricFamily(name, text, value=figures[key])
        for key, (name, text) in COUNTERS.items():
            yield CounterMetricFamily(name, text, value=figures[key])


def serve(metrics: Callable[[], Awaitable[dict[str, Any]]], port: int, addr: str) -> Any:
    """Serve the dispatcher's metrics on ``addr:port``; returns the HTTP server (to shut down)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DispatcherCollector(metrics, asyncio.get_running_loop()))
    server, _thread = start_http_server(port, addr, registry=registry)
    log.info("dispatcher metrics on http://%s:%d/metrics", addr, port)
    return server
