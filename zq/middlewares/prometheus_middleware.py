"""``PrometheusMiddleware``: taskiq's worker metrics, one endpoint for all worker processes.

Metric names are taskiq's: ``received_tasks``, ``success_tasks``, ``found_errors``,
``saved_results`` (counters) and ``execution_time`` (histogram), each labelled by
``task_name``. Needs ``prometheus-client`` (``pip install 'zq[prometheus]'``).

Every worker child records into one multiprocess directory: ``PROMETHEUS_MULTIPROC_DIR`` if
set, else ``metrics_path``. The supervisor sets that variable for its children (a fresh
directory per ``zq worker`` run), so that it is in place before ``prometheus_client`` is first
imported: taskiq sets it in the middleware's constructor, which is too late when the app has
imported ``prometheus_client`` already. One child serves the endpoint for all of them; if
that child exits, its replacement serves it.

``dispatcher_port`` (a zq addition) also serves the dispatcher's gauges, queue depth per queue
first, from the process that binds it (``zq.middlewares.dispatcher_metrics``): what an
autoscaler scales workers on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from tempfile import gettempdir
from typing import Any

from zq.abc.middleware import TaskiqMiddleware
from zq.message import TaskiqMessage
from zq.result import TaskiqResult

log = logging.getLogger("zq.prometheus")


class PrometheusMiddleware(TaskiqMiddleware):
    """Counts received, succeeded, failed and saved tasks, and times executions."""

    def __init__(
        self,
        metrics_path: Path | None = None,
        server_port: int = 9000,
        server_addr: str = "0.0.0.0",
        dispatcher_port: int | None = None,
    ) -> None:
        super().__init__()
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory is None:
            directory = str(metrics_path or Path(gettempdir()) / "zq_worker_metrics")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.metrics_path = Path(directory)
        try:
            from prometheus_client import Counter, Histogram
        except ImportError as exc:
            raise ImportError(
                "PrometheusMiddleware needs prometheus-client: pip install 'zq[prometheus]'"
            ) from exc
        self.found_errors = Counter("found_errors", "Number of found errors", ["task_name"])
        self.received_tasks = Counter("received_tasks", "Number of received tasks", ["task_name"])
        self.success_tasks = Counter(
            "success_tasks", "Number of successfully executed tasks", ["task_name"]
        )
        self.saved_results = Counter(
            "saved_results", "Number of saved results in result backend", ["task_name"]
        )
        self.execution_time = Histogram(
            "execution_time", "Time of function execution", ["task_name"]
        )
        self.server_port = server_port
        self.server_addr = server_addr
        self.dispatcher_port = dispatcher_port
        self.serving = False
        self._dispatcher_server: Any = None

    def startup(self) -> None:
        """In a worker: serve the metrics of every worker process, unless another does.

        In the process that binds the dispatcher, with ``dispatcher_port``: its gauges.
        """
        if not self.broker.is_worker_process:
            self._serve_dispatcher()
            return
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.metrics_path))  # type: ignore[no-untyped-call]
        try:
            start_http_server(self.server_port, self.server_addr, registry=registry)
        except OSError as exc:  # another worker process serves it
            log.debug("metrics endpoint not started here: %s", exc)
            return
        self.serving = True
        log.info("metrics on http://%s:%d/metrics", self.server_addr, self.server_port)

    def _serve_dispatcher(self) -> None:
        metrics = getattr(self.broker, "metrics", None)
        if self.dispatcher_port is None or metrics is None:
            return
        if getattr(self.broker, "dispatcher", None) is None:
            log.info("no dispatcher metrics here: this process joined the dispatcher")
            return
        from zq.middlewares.dispatcher_metrics import serve

        self._dispatcher_server = serve(metrics, self.dispatcher_port, self.server_addr)

    def shutdown(self) -> None:
        """Stop serving the dispatcher's metrics."""
        if self._dispatcher_server is not None:
            self._dispatcher_server.shutdown()
            self._dispatcher_server.server_close()
            self._dispatcher_server = None

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Count a received task."""
        self.received_tasks.labels(message.task_name).inc()
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """Count a success or a failure, and time it."""
        if result.is_err:
            self.found_errors.labels(message.task_name).inc()
        else:
            self.success_tasks.labels(message.task_name).inc()
        self.execution_time.labels(message.task_name).observe(result.execution_time)

    def post_save(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """Count a saved result."""
        self.saved_results.labels(message.task_name).inc()
