"""taskiq's ``taskiq.api``: a worker and a scheduler inside the application's own event loop."""

from __future__ import annotations

import asyncio

import pytest

from zq import InMemoryBroker, ZeroMQBroker
from zq.api import run_receiver_task, run_scheduler_task
from zq.schedule_sources import LabelScheduleSource
from zq.scheduler import TaskiqScheduler


async def test_run_receiver_task_runs_tasks_until_cancelled() -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*")

    @broker.task
    async def double(x: int) -> int:
        return 2 * x

    await broker.startup()
    worker = asyncio.ensure_future(run_receiver_task(broker, max_async_tasks=10))
    results = [await (await double.kiq(i)).wait_result(timeout=10) for i in range(5)]
    assert [r.return_value for r in results] == [0, 2, 4, 6, 8]
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    await broker.shutdown()


async def test_run_receiver_task_refuses_what_it_cannot_do() -> None:
    with pytest.raises(TypeError, match="process pool"):
        await run_receiver_task(ZeroMQBroker("tcp://127.0.0.1:*"), use_process_pool=True)
    with pytest.raises(TypeError, match="runs its tasks itself"):
        await run_receiver_task(InMemoryBroker())


async def test_run_scheduler_task_fires_schedules_until_cancelled() -> None:
    broker = InMemoryBroker()
    fired = asyncio.Event()

    @broker.task(schedule=[{"interval": 1}])
    async def tick() -> None:
        fired.set()

    await broker.startup()
    scheduler = TaskiqScheduler(broker, [LabelScheduleSource(broker)])
    running = asyncio.ensure_future(run_scheduler_task(scheduler))
    await asyncio.wait_for(fired.wait(), 10)  # the next whole second, at the latest
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await broker.shutdown()
