"""InMemoryBroker: the same API in one process, through the same pipeline as a worker."""

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from zq import InMemoryBroker, TaskiqDepends, TaskiqResultTimeoutError, gather
from zq.exceptions import TaskCancelledError

broker = InMemoryBroker()


@broker.task
async def add(a: int, b: int) -> int:
    return a + b


@broker.task("custom-name", team="core")
def where() -> str:
    return threading.current_thread().name


@broker.task()
async def boom() -> None:
    raise ZeroDivisionError("nope")


async def test_kiq_wait_result_gather_and_errors() -> None:
    async with broker:
        task = await add.kiq(1, 2)
        result = await task.wait_result(timeout=5)
        assert result.return_value == 3 and not result.is_err
        assert await task.is_ready()
        again = await task.get_result()
        assert again.return_value == 3 and again.execution_time >= 0
        many = await gather(*[await add.kiq(i, i) for i in range(100)], timeout=5)
        assert [r.return_value for r in many] == [2 * i for i in range(100)]
        failed = await (await boom.kiq()).wait_result(timeout=5)
        assert failed.is_err and isinstance(failed.error, ZeroDivisionError)
        named = await (await where.kiq()).wait_result(timeout=5)
        assert named.return_value.startswith("zq-sync") and named.labels == {"team": "core"}


async def test_registry_names_and_local_calls() -> None:
    assert broker.find_task("custom-name") is where
    assert "tests.test_inmemory:add" in broker.get_all_tasks()
    assert await add(2, 3) == 5  # still callable locally


async def test_a_kicker_sets_labels_and_task_id_for_one_kick_only() -> None:
    async with broker:
        task = await add.kicker().with_labels(extra=1).with_task_id("fixed").kiq(1, 1)
        assert task.task_id == "fixed"
        result = await task.wait_result(timeout=5)
        assert result.labels == {"extra": 1}
        assert add.labels == {}


async def test_wait_result_times_out_with_taskiq_error() -> None:
    async with broker:
        task = await add.kicker().with_task_id("never").kiq(1, 1)
        await broker.wait_all()
        orphan = type(task)("no-such-task", broker.result_backend)
        with pytest.raises(TaskiqResultTimeoutError):
            await orphan.wait_result(timeout=0.05)


def test_works_without_startup_and_in_one_asyncio_run_after_another() -> None:
    """As taskiq's InMemoryBroker: most users' tests kick without startup(), loop after loop."""
    fresh = InMemoryBroker()

    @fresh.task
    async def plus(a: int, b: int) -> int:
        return a + b

    async def once(a: int) -> int:
        task = await plus.kiq(a, 1)
        return (await task.wait_result(timeout=5)).return_value

    assert asyncio.run(once(1)) == 2
    assert asyncio.run(once(2)) == 3  # a new loop: the store of the old one is left behind


async def test_a_cancelled_task_stops_and_its_generator_dependency_sees_the_cancel() -> None:
    broker = InMemoryBroker()
    seen: list[str] = []
    started = asyncio.Event()

    async def resource() -> AsyncIterator[str]:
        try:
            yield "connection"
        except asyncio.CancelledError:
            seen.append("rolled back")
            raise
        finally:
            seen.append("closed")

    @broker.task
    async def slow(conn: str = TaskiqDepends(resource)) -> str:
        started.set()
        await asyncio.Event().wait()  # runs until cancelled
        return conn

    handle = await slow.kiq()
    await started.wait()
    assert await handle.cancel() == "cancelling"
    result = await handle.wait_result(timeout=5)
    assert isinstance(result.error, TaskCancelledError)
    assert seen == ["rolled back", "closed"]
    assert await handle.cancel() == "cancelled"  # asked again: says so, raises nothing
    assert await broker.cancel("no-such-id") == "unknown"
