"""``broker.explain(task_id)``: one line saying why a task has not finished, a test per reason."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import context_app
from tests.integration.conftest import Worker, wait_for_log
from zq import AsyncTaskiqTask, ZeroMQBroker
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"
CLOCK = r"\d\d:\d\d:\d\d"


async def kiq(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> AsyncTaskiqTask[Any]:
    return await AsyncKicker(f"{APP}:{name}", broker, labels).kiq(*args)


@pytest.fixture
async def busy(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> AsyncIterator[tuple[ZeroMQBroker, AsyncTaskiqTask[Any]]]:
    """One worker with one slot, running a long task (cancelled at the end)."""
    workers(producer.endpoint, "-w", "1", "--max-async-tasks", "1")
    await asyncio.wait_for(producer.wait_workers(1), 30)
    log = tmp_path / "log"
    running = await kiq(producer, "stoppable", 0, str(log), 60.0)
    await wait_for_log(log, lambda c: any(t.startswith("start/") for t in c))
    yield producer, running
    await producer.cancel(running.task_id)


async def test_queued_behind_the_tasks_before_it(
    busy: tuple[ZeroMQBroker, AsyncTaskiqTask[Any]], tmp_path: Path
) -> None:
    producer, _ = busy
    waiting = [await kiq(producer, "stoppable", i, str(tmp_path / "x"), 0.0) for i in range(3)]
    assert (
        await producer.explain(waiting[2].task_id) == "queued behind 2 task(s) in queue 'default'"
    )
    ahead = await kiq(producer, "stoppable", 9, str(tmp_path / "x"), 0.0, priority=5)
    assert await producer.explain(ahead.task_id) == "queued behind 0 task(s) in queue 'default'"
    assert (
        await producer.explain(waiting[0].task_id) == "queued behind 1 task(s) in queue 'default'"
    )
    await producer.cancel_many([h.task_id for h in [*waiting, ahead]])


async def test_running_on_a_worker_since(busy: tuple[ZeroMQBroker, AsyncTaskiqTask[Any]]) -> None:
    producer, running = busy
    said = await producer.explain(running.task_id)
    assert re.match(rf"running on worker pid \d+ on \S+ since {CLOCK} \(delivery 1;", said), said


async def test_no_worker_serves_the_queue(producer: ZeroMQBroker, tmp_path: Path) -> None:
    handle = await kiq(producer, "stoppable", 0, str(tmp_path / "x"), 0.0, queue="reports")
    assert await producer.explain(handle.task_id) == "no connected worker serves queue 'reports'"


async def test_no_worker_has_the_task_registered(
    busy: tuple[ZeroMQBroker, AsyncTaskiqTask[Any]],
) -> None:
    producer, _ = busy
    handle = await AsyncKicker("elsewhere:task", producer, {}).kiq()
    said = await producer.explain(handle.task_id)
    assert said == "no connected worker has task 'elsewhere:task' registered"


async def test_rate_limited_until(producer: ZeroMQBroker, tmp_path: Path) -> None:
    first = await kiq(producer, "stoppable", 0, str(tmp_path / "x"), 0.0, rate_limit="1/m")
    second = await kiq(producer, "stoppable", 1, str(tmp_path / "x"), 0.0, rate_limit="1/m")
    assert not (await producer.explain(first.task_id)).startswith("rate-limited")
    assert re.fullmatch(rf"rate-limited until {CLOCK}", await producer.explain(second.task_id))


async def test_delayed_until(producer: ZeroMQBroker, tmp_path: Path) -> None:
    handle = await kiq(producer, "stoppable", 0, str(tmp_path / "x"), 0.0, delay=600)
    assert re.fullmatch(rf"delayed until {CLOCK}", await producer.explain(handle.task_id))


async def test_concurrency_key_at_its_limit(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    workers(producer.endpoint, "-w", "1", "--max-async-tasks", "5")
    await asyncio.wait_for(producer.wait_workers(1), 30)
    log = tmp_path / "log"
    key = {"concurrency_key": "acct-1", "max_concurrency": 1}
    first = await kiq(producer, "stoppable", 0, str(log), 60.0, **key)
    await wait_for_log(log, lambda c: any(t.startswith("start/") for t in c))
    second = await kiq(producer, "stoppable", 1, str(log), 0.0, **key)
    said = await producer.explain(second.task_id)
    assert said == "concurrency key 'acct-1' at its limit (1 running, max 1)"
    await producer.cancel_many([first.task_id, second.task_id])


async def test_dead_lettered_because(
    producer: ZeroMQBroker, workers: Callable[..., Worker]
) -> None:
    workers(producer.endpoint, "-w", "1", app=context_app.APP)
    handle = await AsyncKicker(f"{context_app.__name__}:refuse", producer, {}).kiq()
    await handle.wait_result(timeout=30)
    said = await producer.explain(handle.task_id)
    assert said == "dead-lettered: rejected by the task: not today"


async def test_finished_and_unknown(producer: ZeroMQBroker, tmp_path: Path) -> None:
    handle = await kiq(producer, "stoppable", 0, str(tmp_path / "x"), 0.0)
    await handle.cancel()
    assert await producer.explain(handle.task_id) == "finished with an error"
    said = await producer.explain("never-kicked")
    assert said.startswith("unknown here")
