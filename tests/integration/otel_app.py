"""Tasks traced with OpenTelemetryMiddleware; the worker's spans go to the SDK's in-memory
exporter, and a task hands them to the test (the oracle: what the worker process recorded)."""

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zq import ZeroMQBroker
from zq.middlewares import OpenTelemetryMiddleware

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
broker.add_middlewares(OpenTelemetryMiddleware(tracer_provider=provider))


@broker.task
async def traced(x: int) -> int:
    """A task whose run is traced; it kicks another one, traced as its child."""
    await child.kiq(x)
    return x * 2


@broker.task
async def child(x: int) -> int:
    return x


@broker.task
async def fails() -> None:
    raise ValueError("traced failure")


@broker.task
async def spans() -> list[dict[str, Any]]:
    """The spans this worker process has ended so far."""
    return [
        {
            "name": s.name,
            "kind": s.kind.name,
            "trace": f"{s.context.trace_id:032x}",
            "id": f"{s.context.span_id:016x}",
            "parent": f"{s.parent.span_id:016x}" if s.parent else None,
            "status": s.status.status_code.name,
            "events": [e.name for e in s.events],
        }
        for s in exporter.get_finished_spans()
    ]
