"""The Executor's logic against an in-memory socket: Hello's credit, slots, results, drain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from tests.actors.fakes import FakeLink, FakeSocket
from zq.actors.executor import Executor
from zq.actors.ports import TaskPort
from zq.core.messages import (
    Assign,
    Bye,
    Farewell,
    Hello,
    ResultMsg,
    Results,
    Taken,
    TaskMsg,
    Welcome,
)


class Gate:
    """A ``TaskRunner`` whose tasks finish when the test says so."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.release: dict[str, asyncio.Event] = {}

    def startup(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def task_names(self) -> list[str]:
        return ["app:work"]

    async def run(self, task: TaskMsg, port: TaskPort | None = None) -> ResultMsg:
        event = self.release.setdefault(task.task_id, asyncio.Event())
        self.started.put_nowait(task.task_id)
        await event.wait()
        return ResultMsg(task.task_id, False, b"\xc0", 0.0)

    def finish(self, task_id: str) -> None:
        self.release.setdefault(task_id, asyncio.Event()).set()


class FakeLinks(FakeLink):
    sockets: list[FakeSocket] = []


def task(n: int) -> TaskMsg:
    return TaskMsg(f"id{n}", "app:work", b"\x92\x90\x80")


@pytest.fixture
async def started() -> AsyncIterator[tuple[Executor, Gate, FakeSocket]]:
    FakeLinks.sockets = []
    runner = Gate()
    executor = Executor(runner, ["fake://dispatcher"], max_async_tasks=1, max_prefetch=1)
    executor.link_class = FakeLinks
    await executor.start()
    yield executor, runner, FakeLinks.sockets[0]
    if executor.alive:
        await executor.stop()


async def welcome(executor: Executor, sock: FakeSocket) -> Hello:
    _, hello = await sock.next_of(Hello)
    sock.deliver(Welcome("incarnation", 1.0))
    executor._wake()
    assert await executor.wait_joined(5.0)
    return hello


async def test_hello_grants_slots_plus_prefetch_and_results_give_it_back(
    started: tuple[Executor, Gate, FakeSocket],
) -> None:
    executor, runner, sock = started
    hello = await welcome(executor, sock)
    assert hello.credit == 2 and hello.tasks == ["app:work"]
    sock.deliver(Assign([task(0), task(1)]))
    executor._wake()
    assert await runner.started.get() == "id0"
    assert (executor.running, executor.prefetched) == (1, 1)  # one slot: the second waits
    runner.finish("id0")
    _, results = await sock.next_of(Results)
    assert [r.task_id for r in results.results] == ["id0"] and results.credit == 1
    assert await runner.started.get() == "id1"
    runner.finish("id1")
    _, results = await sock.next_of(Results)
    assert results.credit == 1 and executor.tasks_run == 2


async def test_a_journaled_dispatcher_s_taken_for_the_kicks_of_a_task_is_no_surprise(
    started: tuple[Executor, Gate, FakeSocket], caplog: pytest.LogCaptureFixture
) -> None:
    """It tells the executor which kicks are on its disk, as a producer: nothing to warn of."""
    executor, runner, sock = started
    await welcome(executor, sock)
    caplog.set_level(logging.WARNING, logger="zq.executor")
    sock.deliver(Taken(["kicked-by-a-task"]))
    sock.deliver(Assign([task(0)]))  # handled after the Taken: its run shows both were read
    executor._wake()
    assert await runner.started.get() == "id0"
    runner.finish("id0")
    await sock.next_of(Results)
    assert [r.getMessage() for r in caplog.records] == []


async def test_drain_hands_back_the_prefetched_and_what_crosses_the_bye(
    started: tuple[Executor, Gate, FakeSocket],
) -> None:
    executor, runner, sock = started
    await welcome(executor, sock)
    sock.deliver(Assign([task(0), task(1)]))
    executor._wake()
    assert await runner.started.get() == "id0"
    draining = asyncio.get_running_loop().create_task(executor.drain(5.0))
    _, bye = await sock.next_of(Bye)
    assert bye.returned == ["id1"]  # prefetched, never started: back at once
    sock.deliver(Assign([task(2)]))  # sent by the dispatcher before it saw our Bye
    sock.deliver(Farewell())
    executor._wake()
    _, bye = await sock.next_of(Bye)
    assert bye.returned == ["id2"]
    runner.finish("id0")
    _, results = await sock.next_of(Results)
    assert [r.task_id for r in results.results] == ["id0"] and results.credit == 0
    assert not draining.done()  # its last word was not an answered Bye yet
    _, _ = await sock.next_of(Bye)
    sock.deliver(Farewell())
    sock.deliver(Farewell())
    executor._wake()
    assert await draining is True
    assert not executor.alive
