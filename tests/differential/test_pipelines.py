"""The same pipeline code on taskiq with taskiq-pipelines and on zq (real `zq worker`)."""

from __future__ import annotations

from typing import Any

import pytest

import zq
from tests.differential.pipeline_app import build, run_all
from tests.integration.conftest import Worker

taskiq = pytest.importorskip("taskiq")
taskiq_pipelines = pytest.importorskip("taskiq_pipelines")


async def on_taskiq() -> dict[str, Any]:
    broker = taskiq.InMemoryBroker().with_middlewares(taskiq_pipelines.PipelineMiddleware())
    tasks = build(taskiq, broker)
    await broker.startup()
    try:
        return await run_all(taskiq_pipelines.Pipeline, broker, tasks)
    finally:
        await broker.shutdown()


async def on_zq() -> dict[str, Any]:
    from zq.pipelines import Pipeline, PipelineMiddleware

    broker = zq.ZeroMQBroker("tcp://127.0.0.1:*").with_middlewares(PipelineMiddleware())
    tasks = build(zq, broker)
    async with broker:
        worker = Worker(broker.endpoint, "-w", "2", app="tests.differential.zq_pipeline_app:broker")
        try:
            await broker.wait_workers(2)
            return await run_all(Pipeline, broker, tasks)
        finally:
            worker.stop()


async def test_the_same_pipelines_give_the_same_results() -> None:
    expected = await on_taskiq()
    got = await on_zq()
    print("FIGURES pipelines:", got)
    assert got == expected
    assert got["chain"] == sum(2 * i for i in range(7))  # doubled: all even, all kept
    assert got["failing_step"] == ("error", "ValueError", "step failed on [0, 1]")
