"""OpenTelemetry tracing for zq tasks (taskiq's ``OpenTelemetryMiddleware``, by name and place).

At ``kiq()`` a *producer* span (``send TASK_NAME``) starts as a child of whatever span is
current (the HTTP request that kicked the task, say) and ends once the dispatcher took the
task; its context travels in the task's labels as W3C trace context (``traceparent``,
``tracestate``). On the worker a *consumer* span (``run TASK_NAME``) continues that trace for
the run, is current while the task runs (so its own spans, and tasks it kicks, are its
children), and records the task's exception. One trace then shows the request, the kick and the
run, across processes and hosts.

Needs ``opentelemetry-api`` (the ``zq[opentelemetry]`` extra); exporting needs an SDK and an
exporter configured by the app, as for any instrumented library. Add the middleware to the
broker in the app module, so the producers and the workers both have it.
"""

from __future__ import annotations

from typing import Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # the optional extra
    raise ImportError(
        "OpenTelemetryMiddleware needs opentelemetry-api: pip install 'zq[opentelemetry]'"
    ) from exc

from zq.abc.middleware import TaskiqMiddleware
from zq.message import TaskiqMessage
from zq.result import TaskiqResult

MAX_OPEN_SENDS = 10_000  # producer spans waiting for post_send (a failed kick never ends one)


class OpenTelemetryMiddleware(TaskiqMiddleware):
    """Producer spans at ``kiq()``, consumer spans for runs, trace context in the labels.

    ``tracer_provider``: the provider to take the tracer from (default: the global one).
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        super().__init__()
        self.tracer = trace.get_tracer("zq", tracer_provider=tracer_provider)
        self._sending: dict[str, trace.Span] = {}
        self._running: dict[str, tuple[trace.Span, object]] = {}

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        """Start the producer span; put its context in the task's labels."""
        span = self.tracer.start_span(
            f"send {message.task_name}",
            kind=SpanKind.PRODUCER,
            attributes=_attributes(message, "send"),
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        message.labels.update(carrier)
        if len(self._sending) >= MAX_OPEN_SENDS:  # kicks that failed: end the oldest
            self._sending.pop(next(iter(self._sending))).end()
        self._sending[message.task_id] = span
        return message

    def post_send(self, message: TaskiqMessage) -> None:
        """The dispatcher took the task: the producer span ends."""
        span = self._sending.pop(message.task_id, None)
        if span is not None:
            span.end()

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Start the consumer span in the sender's trace and make it current for the run."""
        parent = propagate.extract(message.labels)
        span = self.tracer.start_span(
            f"run {message.task_name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=_attributes(message, "process"),
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        self._running[message.task_id] = (span, token)
        return message

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Record the task's exception on its consumer span."""
        running = self._running.get(message.task_id)
        if running is not None:
            running[0].record_exception(exception)
            running[0].set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}"))

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """The run ended: its span ends, and the context before it is current again."""
        running = self._running.pop(message.task_id, None)
        if running is None:
            return
        span, token = running
        span.set_attribute("zq.task.execution_time", result.execution_time)
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]


def _attributes(message: TaskiqMessage, operation: str) -> dict[str, Any]:
    """The messaging attributes of a task's spans (OpenTelemetry's semantic conventions)."""
    return {
        "messaging.system": "zq",
        "messaging.operation.type": operation,
        "messaging.destination.name": str(message.labels.get("queue", "default")),
        "messaging.message.id": message.task_id,
        "zq.task.name": message.task_name,
    }
