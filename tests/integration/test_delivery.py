"""Delivery features with in-process workers: backpressure, dead letters, the journal, routing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import pytest

from zq import AsyncTaskiqTask, Context, TaskiqDepends, ZeroMQBroker, gather
from zq.exceptions import QueueFullError, TaskRejectedError

REJECTED: set[str] = set()


def make_broker(**options: Any) -> ZeroMQBroker:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0, **options)

    @broker.task(task_name="echo")
    async def echo(x: int) -> int:
        return x

    @broker.task(task_name="reject_once")
    async def reject_once(token: str, context: Annotated[Context, TaskiqDepends()]) -> str:
        if token not in REJECTED:
            REJECTED.add(token)
            context.reject("first time")
        return token

    @broker.task(task_name="typed")
    async def typed(x: int, y: int = 0) -> int:
        return x + y

    return broker


def worker(broker: ZeroMQBroker, **options: Any) -> asyncio.Task[int]:
    return asyncio.get_running_loop().create_task(broker.arun_worker(**options))


async def stop(broker: ZeroMQBroker, running: asyncio.Task[int]) -> None:
    broker.request_shutdown()
    await asyncio.wait_for(running, 30)


async def test_kiq_waits_while_the_pending_queue_is_full_and_times_out_clearly() -> None:
    broker = make_broker(max_pending=3, kiq_timeout_s=0.3)
    echo = broker.find_task("echo")
    assert echo is not None
    async with broker:
        tasks = [await echo.kiq(i) for i in range(3)]  # no worker: they stay pending
        await broker.stats()  # the gate reflects the last batch the dispatcher handled
        with pytest.raises(QueueFullError, match="pending queue stayed full \\(3 tasks\\)"):
            await echo.kiq(99)
        broker.kiq_timeout_s = None
        waiting = asyncio.get_running_loop().create_task(echo.kiq(3))  # runs first: waits
        running = worker(broker)
        tasks.append(await asyncio.wait_for(waiting, 30))  # room opened as the worker took some
        assert broker.dispatcher is not None and broker.dispatcher.admission.waited == 2
        results = await gather(*tasks, timeout=30)
        assert [r.return_value for r in results] == [0, 1, 2, 3]
        assert (await broker.stats())["stats"].submitted == 4  # the timed-out kiq sent nothing
        await stop(broker, running)


async def test_workers_for_tells_whether_anything_serves_a_task() -> None:
    broker = make_broker()
    async with broker:
        assert await broker.workers_for("echo") == []
        running = worker(broker, queues=["emails"])
        await broker.wait_workers(1)
        assert await broker.workers_for("echo") == []  # connected, but not for that queue
        [info] = await broker.workers_for("echo", queue="emails")
        assert info.role == "executor" and "echo" in info.tasks
        assert await broker.workers_for("nobody:registers_this", queue="emails") == []
        await stop(broker, running)


async def test_dead_letters_are_listed_replayed_under_their_id_and_purged() -> None:
    broker = make_broker()
    reject_once = broker.find_task("reject_once")
    assert reject_once is not None
    async with broker:
        running = worker(broker)
        first = [await reject_once.kiq(f"r{i}") for i in range(3)]
        for task in first:
            result = await task.wait_result(timeout=30)
            assert isinstance(result.error, TaskRejectedError)
        letters = await broker.dead_letters()
        assert [d.task_id for d in letters] == [t.task_id for t in first]
        assert all("rejected by the task: first time" in d.reason for d in letters)
        replayed = await broker.replay_dead_letters([first[0].task_id, "no-such-id"])
        assert replayed == [first[0].task_id]
        result = await first[0].wait_result(timeout=30)
        assert result.return_value == "r0"  # the new run's result replaced the error
        assert await broker.purge_dead_letters() == 2
        assert await broker.dead_letters() == []
        await stop(broker, running)


async def test_arguments_that_do_not_match_the_signature_fail_that_task_only() -> None:
    broker = make_broker()
    typed = broker.find_task("typed")
    assert typed is not None
    async with broker:
        running = worker(broker)
        bad = await typed.kiq(1, 2, 3)
        unknown = await typed.kiq(1, z=5)
        good = await typed.kiq(1, y=2)
        for task in (bad, unknown):
            result = await task.wait_result(timeout=30)
            assert isinstance(result.error, TypeError)
        assert (await good.wait_result(timeout=30)).return_value == 3
        await stop(broker, running)


async def test_the_journal_keeps_tasks_results_and_dead_letters_across_restarts(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "zq.db")
    broker = make_broker(journal=journal)
    echo = broker.find_task("echo")
    assert echo is not None
    async with broker:
        tasks = [await echo.kiq(i) for i in range(10)]  # no worker: on disk, pending
    broker = make_broker(journal=journal)
    async with broker:
        stats = await broker.stats()
        assert stats["pending"] == 10 and stats["stats"].recovered == 10
        running = worker(broker)
        again = [AsyncTaskiqTask(t.task_id, broker.result_backend) for t in tasks]
        assert [r.return_value for r in await gather(*again, timeout=30)] == list(range(10))
        reject_once = broker.find_task("reject_once")
        assert reject_once is not None
        rejected = await (await reject_once.kiq("j1")).wait_result(timeout=30)
        assert rejected.is_err
        await stop(broker, running)
    broker = make_broker(journal=journal)
    async with broker:
        stats = await broker.stats()
        assert stats["pending"] == 0 and stats["stats"].recovered == 0
        store = broker.result_backend
        values = [(await store.get_result(t.task_id)).return_value for t in tasks]
        assert values == list(range(10))  # results survived the restart, without a worker
        assert [d.reason for d in await broker.dead_letters()] == [
            "rejected by the task: first time"
        ]
