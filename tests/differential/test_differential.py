"""The same app and scenarios on taskiq's InMemoryBroker, zq's InMemoryBroker, and zq with
real ``zq worker`` processes: the outcomes must match, except where zq fixes taskiq.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import taskiq

import zq
from tests.differential import scenarios
from tests.differential.userapp import LOG_ENV, build
from tests.integration.conftest import Worker, free_address

Scenario = Any


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("diff") / "events.log"
    os.environ[LOG_ENV] = str(path)  # inherited by the worker processes
    yield path
    os.environ.pop(LOG_ENV, None)


@pytest.fixture(scope="module")
def zq_worker(event_log: Path) -> Iterator[str]:
    address = free_address()
    worker = Worker(address, "-w", "1", app="tests.differential.zq_app:broker")
    yield address
    worker.stop()


async def run_in_memory(T: ModuleType, scenario: Scenario, tmp: Path) -> Any:
    broker = T.InMemoryBroker()
    tasks = build(T, broker)
    await broker.startup()
    try:
        return await scenario(T, broker, tasks, tmp)
    finally:
        await broker.shutdown()


async def run_on_workers(address: str, scenario: Scenario, tmp: Path) -> Any:
    broker = zq.ZeroMQBroker(address, heartbeat_s=0.2, liveness_timeout_s=1.0)
    tasks = build(zq, broker)
    async with broker:
        await broker.wait_workers(1)
        return await scenario(zq, broker, tasks, tmp)


# Where zq differs from taskiq on purpose: scenario -> (key, taskiq's value, zq's value, why).
DIFFERENCES: dict[str, list[tuple[str, Any, Any, str]]] = {
    "labels": [
        (
            "shared_second",
            [2, ["base", "extra"]],
            [2, ["base"]],
            "taskiq's shared-task kicker shares the task's label dict, so with_labels(extra=1) "
            "on one kick leaks into every later kick; zq's kicker copies",
        ),
        ("shared_labels_after", ["base", "extra"], ["base"], "the same leak, seen on the task"),
    ],
}


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.__name__)
async def test_same_outcome_on_taskiq_and_zq(
    scenario: Scenario, event_log: Path, zq_worker: str, tmp_path: Path
) -> None:
    expected = await run_in_memory(taskiq, scenario, tmp_path)
    in_memory = await run_in_memory(zq, scenario, tmp_path)
    on_workers = await run_on_workers(zq_worker, scenario, tmp_path)
    for key, theirs, ours, _why in DIFFERENCES.get(scenario.__name__, []):
        assert expected[key] == theirs
        assert in_memory[key] == ours
        assert on_workers[key] == ours
        expected[key] = in_memory[key] = on_workers[key] = None
    assert in_memory == expected
    assert on_workers == expected
