"""Contracts the actors state (issue 16): each of these failed before its fix."""

from __future__ import annotations

import asyncio

import pytest

from zq import ZeroMQBroker
from zq.actors.results import FailWaiters, GetProgress, ResultStore, WaitProgress
from zq.exceptions import ActorDeadError, SendTaskError


async def test_a_pending_wait_until_fails_with_actor_dead_when_the_dispatcher_stops() -> None:
    """Was: the future was cancelled, so the caller got CancelledError, not ActorDeadError."""
    broker = ZeroMQBroker("tcp://127.0.0.1:*")
    await broker.startup()
    waiting = asyncio.ensure_future(broker.wait_until(lambda s: s["stats"].completed > 0))
    await broker.wait_until(lambda _s: True)  # the first ask is queued by now
    await broker.shutdown()
    with pytest.raises(ActorDeadError, match="stopped"):
        await asyncio.wait_for(waiting, 5)


async def test_stats_are_a_snapshot_that_does_not_change_under_the_caller() -> None:
    """Was: stats() handed out the dispatcher's live counters."""
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        before = (await broker.stats())["stats"]
        assert broker.dispatcher is not None
        broker.dispatcher.stats.submitted += 1  # what the dispatcher does as tasks come
        assert before.submitted == 0
        assert (await broker.stats())["stats"].submitted == 1


async def test_failing_the_waiters_fails_progress_waiters_too() -> None:
    """Was: FailWaiters left wait_progress() callers waiting forever."""
    store = ResultStore()
    await store.start()
    try:
        waiting = asyncio.ensure_future(store.ask(WaitProgress("t1")))
        # A round trip through the store: the wait, scheduled first, is registered by then.
        assert await store.ask(GetProgress("t1")) is None
        assert not waiting.done()
        store.tell_nowait(FailWaiters(SendTaskError("the dispatcher crashed")))
        with pytest.raises(SendTaskError, match="crashed"):
            await asyncio.wait_for(waiting, 5)
    finally:
        await store.stop()
