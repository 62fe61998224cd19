"""The Dispatcher's logic against an in-memory socket: sessions, credit, results, Bye, Rejoin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.actors.fakes import FakeDispatcher
from zq.actors.dispatcher_api import GetStats
from zq.actors.results import ResultStore
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_EXECUTOR,
    ROLE_PRODUCER,
    Assign,
    Busy,
    Bye,
    Farewell,
    Hello,
    Rejoin,
    ResultMsg,
    Results,
    Submit,
    TaskMsg,
    Welcome,
)

WORKER, OTHER, PRODUCER = b"worker-1", b"worker-2", b"producer"


def task(n: int) -> TaskMsg:
    return TaskMsg(f"id{n}", "app:work", b"\x92\x90\x80")


@pytest.fixture
async def dispatcher() -> AsyncIterator[FakeDispatcher]:
    store = ResultStore()
    await store.start()
    actor = FakeDispatcher(store, max_pending=5)
    await actor.start()
    yield actor
    await actor.stop()
    await store.stop()


async def join(d: FakeDispatcher, peer: bytes, role: str = ROLE_EXECUTOR, credit: int = 0) -> None:
    d.socket.deliver(
        Hello(role, PROTOCOL_VERSION, peer.decode(), 1, "h", ["app:work"], [], credit), peer
    )
    d.poke()
    to, welcome = await d.socket.next_of(Welcome)
    assert to == peer and welcome.incarnation == d.incarnation


async def assigned(d: FakeDispatcher, count: int) -> list[tuple[bytes | None, str]]:
    """The next ``count`` tasks assigned: (to whom, task id), in order."""
    out: list[tuple[bytes | None, str]] = []
    while len(out) < count:
        to, message = await d.socket.next_of(Assign)
        out += [(to, t.task_id) for t in message.tasks]
    assert len(out) == count
    return out


async def test_credit_bounds_what_is_assigned_and_a_result_returns_it(
    dispatcher: FakeDispatcher,
) -> None:
    await join(dispatcher, PRODUCER, ROLE_PRODUCER)
    await join(dispatcher, WORKER, credit=2)
    dispatcher.socket.deliver(Submit([task(0), task(1), task(2)]), PRODUCER)
    dispatcher.poke()
    assert await assigned(dispatcher, 2) == [(WORKER, "id0"), (WORKER, "id1")]
    stats = await dispatcher.ask(GetStats())
    assert (stats["pending"], stats["leased"]) == (1, 2)  # the third waits for credit

    dispatcher.socket.deliver(Results([ResultMsg("id0", False, b"\xc0", 0.0, run=7)], 1), WORKER)
    dispatcher.poke()
    sent = dict([await dispatcher.socket.next_sent(), await dispatcher.socket.next_sent()])
    assert [t.task_id for t in sent[WORKER].tasks] == ["id2"]  # the returned credit, used
    assert [r.task_id for r in sent[PRODUCER].results] == ["id0"]  # its result, forwarded


async def test_a_full_dispatcher_hands_submitted_tasks_back(dispatcher: FakeDispatcher) -> None:
    await join(dispatcher, PRODUCER, ROLE_PRODUCER)
    dispatcher.socket.deliver(Submit([task(n) for n in range(7)]), PRODUCER)
    dispatcher.poke()
    to, busy = await dispatcher.socket.next_of(Busy)
    assert to == PRODUCER and [t.task_id for t in busy.tasks] == ["id5", "id6"]  # max_pending 5
    assert (await dispatcher.ask(GetStats()))["pending"] == 5


async def test_an_unknown_session_is_told_to_rejoin_and_its_tasks_still_count(
    dispatcher: FakeDispatcher,
) -> None:
    dispatcher.socket.deliver(Submit([task(0)]), b"stranger")
    dispatcher.poke()
    to, _ = await dispatcher.socket.next_of(Rejoin)
    assert to == b"stranger"
    await join(dispatcher, WORKER, credit=1)
    assert await assigned(dispatcher, 1) == [(WORKER, "id0")]


async def test_bye_is_answered_and_the_returned_task_goes_to_another_worker(
    dispatcher: FakeDispatcher,
) -> None:
    await join(dispatcher, PRODUCER, ROLE_PRODUCER)
    await join(dispatcher, WORKER, credit=2)
    dispatcher.socket.deliver(Submit([task(0), task(1)]), PRODUCER)
    dispatcher.poke()
    await assigned(dispatcher, 2)
    dispatcher.socket.deliver(Bye(returned=["id1"]), WORKER)
    dispatcher.poke()
    to, _ = await dispatcher.socket.next_of(Farewell)
    assert to == WORKER
    await join(dispatcher, OTHER, credit=1)
    assert await assigned(dispatcher, 1) == [(OTHER, "id1")]
    stats = await dispatcher.ask(GetStats())
    assert stats["stats"].requeued == 1 and stats["leased"] == 2  # id0 still runs on WORKER
