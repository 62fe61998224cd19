"""One worker, several dispatchers: its slots are shared evenly, never given twice (issue 22)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Worker, free_address
from zq import ZeroMQBroker
from zq.exceptions import AddressInUseError
from zq.funcs import gather
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"


async def test_thirty_slots_and_three_dispatchers_never_more_than_thirty_and_even_shares(
    workers: Callable[..., Worker], tmp_path: Path
) -> None:
    settings: dict[str, Any] = {"heartbeat_s": 0.2, "liveness_timeout_s": 1.0}
    async with contextlib.AsyncExitStack() as stack:
        brokers = [
            await stack.enter_async_context(ZeroMQBroker("tcp://127.0.0.1:*", **settings))
            for _ in range(3)
        ]
        connect = [option for b in brokers for option in ("--connect", b.endpoint)]
        workers(None, *connect, "-w", "1", "--max-async-tasks", "30", app=f"{APP}:broker")
        for broker in brokers:
            await broker.wait_workers(1)
        most = [0, 0, 0]  # the most tasks each dispatcher had assigned at once (after each batch)
        finished_first: list[int] = []

        def watch(n: int, count: int) -> Callable[[dict[str, Any]], bool]:
            def seen(stats: dict[str, Any]) -> bool:
                most[n] = max(most[n], stats["leased"])
                done = stats["stats"].completed >= count
                if done and not finished_first:
                    finished_first.extend(
                        [b.dispatcher.stats.completed for b in brokers if b.dispatcher]
                    )
                return done

            return seen

        count = 150
        handles = []
        for broker in brokers:
            span = AsyncKicker(f"{APP}:span", broker, {})
            handles.append([await span.kiq(i, str(tmp_path / "log"), 0.02) for i in range(count)])
        await asyncio.gather(*(b.wait_until(watch(n, count)) for n, b in enumerate(brokers)))
        for handle in handles:
            assert all(not r.is_err for r in await gather(*handle, timeout=30))
    print(
        f"FIGURES many dispatchers: 30 slots, 3 dispatchers x {count} tasks of 20 ms: most "
        f"assigned at once per dispatcher {most}; completed when the first was done "
        f"{finished_first}"
    )
    assert max(most) <= 10 and sum(most) <= 30  # before: each could be sent 30
    assert min(finished_first) >= 0.8 * count  # even shares: they finish together


async def test_a_routed_queue_s_tasks_are_held_cancelled_and_drained_by_its_dispatcher() -> None:
    main, other = free_address(), free_address()
    broker = ZeroMQBroker(main, routes={"b": other}, shutdown_timeout_s=0.5)
    async with broker:  # both addresses free: this process binds both
        assert broker.dispatcher_addresses() == [main, other]
        assert broker.dispatcher_addresses(["b"]) == [other]
        kicker = AsyncKicker(f"{APP}:sync_where", broker, {})
        here = await kicker.kiq(1)
        routed = await AsyncKicker(f"{APP}:sync_where", broker, {"queue": "b"}).kiq(2)
        assert (await broker.stats())["pending"] == 1  # the main dispatcher holds only its own
        assert await broker.cancel_many([routed.task_id, here.task_id, "nope"]) == [
            "cancelled",
            "cancelled",
            "unknown",
        ]
        await AsyncKicker(f"{APP}:sync_where", broker, {"queue": "b"}).kiq(3)
        report = await broker.shutdown()  # no worker: the routed one is reported, not hidden
    assert len(report.unfinished) == 1 and report.lost == report.unfinished


def test_routes_are_checked_where_they_are_given() -> None:
    with pytest.raises(ValueError, match=r"routes\['b'\]: 'localhost:1' has no scheme"):
        ZeroMQBroker(routes={"b": "localhost:1"})
    with pytest.raises(ValueError, match="the broker's own address"):
        ZeroMQBroker("tcp://127.0.0.1:5555", routes={"b": "tcp://127.0.0.1:5555"})
    with pytest.raises(ValueError, match="is not a queue name"):
        ZeroMQBroker(routes={"": "tcp://127.0.0.1:5556"})


async def test_a_route_that_cannot_start_stops_the_broker_s_start_and_frees_its_address() -> None:
    main = free_address()
    with socket.socket() as other:  # a program that is not zq holds the route's address
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = f"tcp://127.0.0.1:{other.getsockname()[1]}"
        broker = ZeroMQBroker(main, routes={"b": taken}, join_timeout_s=0.5)
        with pytest.raises(AddressInUseError, match="no zq dispatcher answered"):
            await broker.startup()
    async with ZeroMQBroker(main) as again:  # nothing was left bound
        assert again.dispatcher is not None
