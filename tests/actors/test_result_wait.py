"""Waiting for a result with a time limit: the store's timer on the waiter's future."""

from __future__ import annotations

import asyncio

import pytest

from zq import TaskiqResultTimeoutError, ZeroMQBroker
from zq.actors.results import GetProgress, ResultStore
from zq.core.messages import ResultMsg

broker = ZeroMQBroker("tcp://127.0.0.1:*")


@broker.task
async def nothing() -> None:
    """Never runs here: no worker joins."""


async def registered(store: ResultStore, task_id: str) -> None:
    """A round trip through the store: a wait scheduled before it is registered by then."""
    assert await store.ask(GetProgress(task_id)) is None
    assert task_id in store._waiters


def result_of(task_id: str) -> ResultMsg:
    return ResultMsg(task_id, False, b"\xc0", 0.0)  # msgpack nil: returned None


async def test_a_wait_past_its_limit_raises_and_leaves_no_waiter_behind() -> None:
    async with broker:
        handle = await nothing.kiq()
        with pytest.raises(TaskiqResultTimeoutError):
            await handle.wait_result(timeout=0.05)  # (no worker: nothing can answer)
        store = broker.result_backend.store  # type: ignore[attr-defined]
        assert handle.task_id not in store._waiters
        store.put([result_of(handle.task_id)])  # as if it finished after all
        assert not (await handle.wait_result(timeout=5)).is_err


async def test_a_wait_within_its_limit_gets_the_result_and_a_cancelled_one_is_cancelled() -> None:
    store = ResultStore()
    await store.start()
    try:
        waiting = asyncio.ensure_future(store.result("t1", timeout=60))
        await registered(store, "t1")
        store.put([result_of("t1")])
        assert (await waiting).task_id == "t1"
        cancelled = asyncio.ensure_future(store.result("t2", timeout=60))
        await registered(store, "t2")
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled  # the caller's cancel, not a TimeoutError
        store.unwait("t2")
        assert "t2" not in store._waiters
    finally:
        await store.stop()
