"""End to end through real `zq worker --workers 2` processes on random loopback ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Worker, free_address, kick, read_log, wait_for_file
from zq import ZeroMQBroker, gather


async def test_5000_tasks_give_5000_results_each_executed_exactly_once(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "executions.log"
    workers(producer.endpoint, "--workers", "2")
    await asyncio.wait_for(producer.wait_workers(2), 30)
    tokens = [f"t{i}" for i in range(5000)]
    tasks = [await kick(producer, "record", token, str(log)) for token in tokens]
    results = await gather(*tasks, timeout=60)
    assert [r.return_value for r in results] == tokens
    assert not any(r.is_err for r in results)
    executed, pids = read_log(log)
    assert set(executed) == set(tokens)
    assert set(executed.values()) == {1}, "a task ran more than once"
    assert len(pids) == 2, "both worker processes should have run tasks"


async def test_workers_started_before_the_producer_lose_nothing(
    workers: Callable[..., Worker], tmp_path: Path
) -> None:
    address = free_address()
    workers(address, "--workers", "2")  # nothing listens there yet
    log = tmp_path / "executions.log"
    async with ZeroMQBroker(address) as producer:
        tokens = [f"early{i}" for i in range(500)]
        # Kicked before any worker has joined: the tasks wait in the dispatcher.
        tasks = [await kick(producer, "record", token, str(log)) for token in tokens]
        results = await gather(*tasks, timeout=60)
    assert [r.return_value for r in results] == tokens
    executed, _ = read_log(log)
    assert executed == dict.fromkeys(tokens, 1)


async def test_a_sync_task_runs_in_a_worker_thread(
    producer: ZeroMQBroker, workers: Callable[..., Worker]
) -> None:
    workers(producer.endpoint, "--workers", "1")
    task = await kick(producer, "sync_where", 21)
    result = await task.wait_result(timeout=30)
    value, thread = result.return_value
    assert value == 42
    assert thread.startswith("zq-sync"), thread


async def test_an_exception_round_trips_with_its_type_and_message(
    producer: ZeroMQBroker, workers: Callable[..., Worker]
) -> None:
    worker = workers(producer.endpoint, "--workers", "1", capture=True)
    task = await kick(producer, "fail", 7)
    result = await task.wait_result(timeout=30)
    assert result.is_err
    assert type(result.error) is ValueError
    assert str(result.error) == "failed with 7"
    with pytest.raises(ValueError, match="failed with 7"):
        result.raise_for_error()
    # the worker's log says so as a server's would: ERROR, the task, its id, the traceback
    await worker.expect("ValueError: failed with 7")
    lines = worker.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "[ERROR]" in line and task.task_id in line)
    assert "tests.integration.app_tasks:fail" in lines[start]
    assert "Traceback (most recent call last)" in lines[start + 1]


async def test_a_worker_with_no_tasks_says_so_as_a_warning(
    producer: ZeroMQBroker, workers: Callable[..., Worker]
) -> None:
    app = "tests.integration.empty_app:broker"
    worker = workers(producer.endpoint, "-w", "1", app=app, capture=True)
    await worker.expect("registered 0 tasks")
    line = next(line for line in worker.output.splitlines() if "registered 0 tasks" in line)
    assert "[WARNING]" in line and app in line


async def test_a_killed_child_is_restarted_and_its_task_runs_again(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log, marker = tmp_path / "executions.log", tmp_path / "marker"
    workers(producer.endpoint, "--workers", "1")
    task = await kick(producer, "hang_first_time", "only", str(log), str(marker))
    await wait_for_file(marker)  # the first delivery is running, and hangs
    os.kill(int(marker.read_text()), 9)
    result = await task.wait_result(timeout=30)  # requeued to the restarted child
    assert result.return_value == "only"
    executed, pids = read_log(log)
    assert executed["only"] == 2 and len(pids) == 2
    stats = await producer.stats()
    assert stats["stats"].executors_lost == 1 and stats["stats"].requeued == 1
