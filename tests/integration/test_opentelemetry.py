"""OpenTelemetryMiddleware across real processes: the request, the kick and the run in one trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.integration.conftest import Worker
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker
from zq.middlewares import OpenTelemetryMiddleware

APP = "tests.integration.otel_app"


async def test_one_trace_holds_the_request_the_kick_and_the_run_on_the_worker(
    workers: Callable[..., Worker],
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    broker = ZeroMQBroker("tcp://127.0.0.1:*")
    broker.add_middlewares(OpenTelemetryMiddleware(tracer_provider=provider))
    async with broker:
        workers(broker.endpoint, "-w", "1", app=f"{APP}:broker")
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("GET /report", kind=SpanKind.SERVER) as request:
            task = await AsyncKicker(f"{APP}:traced", broker, {}).kiq(21)
            failing = await AsyncKicker(f"{APP}:fails", broker, {}).kiq()
        assert (await task.wait_result(timeout=30)).return_value == 42
        assert (await failing.wait_result(timeout=30)).is_err
        await broker.wait_until(lambda s: s["stats"].completed == 3)  # and the child it kicked
        remote = await (await AsyncKicker(f"{APP}:spans", broker, {}).kiq()).wait_result(timeout=30)

    here = {s.name: s for s in exporter.get_finished_spans()}
    trace_id = f"{request.get_span_context().trace_id:032x}"
    send = here[f"send {APP}:traced"]
    assert send.kind is SpanKind.PRODUCER and send.parent is not None
    assert send.parent.span_id == request.get_span_context().span_id
    worker: dict[str, dict[str, Any]] = {s["name"]: s for s in remote.return_value}
    print("FIGURES spans:", sorted(worker))
    run = worker[f"run {APP}:traced"]
    assert run["kind"] == "CONSUMER" and run["trace"] == trace_id
    assert run["parent"] == f"{send.context.span_id:016x}"  # the kick is the run's parent
    # The task it kicked from the worker: sent within the run, run as part of the trace.
    child_send = worker[f"send {APP}:child"]
    assert child_send["parent"] == run["id"] and child_send["trace"] == trace_id
    child_run = worker[f"run {APP}:child"]
    assert child_run["parent"] == child_send["id"] and child_run["trace"] == trace_id
    failed = worker[f"run {APP}:fails"]
    assert failed["status"] == "ERROR" and "exception" in failed["events"]
    assert failed["trace"] == trace_id
