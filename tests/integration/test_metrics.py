"""The dispatcher's gauges for autoscaling, scraped over HTTP as Prometheus would."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Worker, free_port
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker
from zq.middlewares import PrometheusMiddleware

APP = "tests.integration.app_tasks"


def scrape(port: int) -> dict[str, float]:
    """``{sample line's name and labels: value}`` of the endpoint (comments left out)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_the_queue_depth_gauge_reads_the_tasks_waiting_per_queue(
    workers: Callable[..., Worker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # this test's, not the suite's
    port = free_port()
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    broker.add_middlewares(PrometheusMiddleware(server_addr="127.0.0.1", dispatcher_port=port))
    async with broker:
        reports = AsyncKicker(f"{APP}:record", broker, {"queue": "reports"})
        default = AsyncKicker(f"{APP}:record", broker, {})
        held = [await reports.kiq(f"r{i}", str(tmp_path / "log")) for i in range(5)]
        for i in range(3):
            await default.kiq(f"d{i}", str(tmp_path / "log"))
        held.append(await AsyncKicker(f"{APP}:record", broker, {"delay": 600}).kiq("later", "-"))
        figures = await asyncio.to_thread(scrape, port)
        assert figures['zq_queue_depth{queue="reports"}'] == 5
        assert figures['zq_queue_depth{queue="default"}'] == 3
        assert figures["zq_tasks_delayed"] == 1
        assert figures["zq_workers"] == 0 and figures["zq_tasks_submitted_total"] == 9
        # A worker for the default queue only: its three run, the reports wait.
        workers(broker.endpoint, "-w", "1", "--queues", "default")
        await broker.wait_until(lambda s: s["stats"].completed == 3)
        figures = await asyncio.to_thread(scrape, port)
        assert figures['zq_queue_depth{queue="reports"}'] == 5
        assert figures.get('zq_queue_depth{queue="default"}', 0) == 0
        assert figures["zq_workers"] == 1 and figures["zq_tasks_completed_total"] == 3
        # (else the stop would wait out its drain timeout for tasks nothing here serves)
        await broker.cancel_many([h.task_id for h in held])
