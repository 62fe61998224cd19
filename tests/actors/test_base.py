"""The actor base: tell/ask, answers later, crashes, bounded mailboxes, timers as messages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zq.actors.base import Actor
from zq.exceptions import ActorDeadError, WouldBlock


class Echo(Actor):
    def __init__(self, mailbox_size: int = 100) -> None:
        super().__init__("echo", mailbox_size)
        self.seen: list[Any] = []
        self.later: asyncio.Future[Any] | None = None
        self.batches = 0

    def receive(self, message: Any) -> None:
        if message == "crash":
            raise RuntimeError("boom")
        self.seen.append(message)

    def answer(self, message: Any) -> Any:
        if message == "bad":
            raise KeyError("bad question")
        if message == "later":
            assert self._loop is not None
            self.later = self._loop.create_future()
            return self.later
        return ("echo", message)

    def after_batch(self) -> None:
        self.batches += 1


async def test_ask_answers_and_an_answer_error_goes_back_to_the_asker_only() -> None:
    actor = Echo()
    await actor.start()
    assert await actor.ask(1) == ("echo", 1)
    with pytest.raises(KeyError):
        await actor.ask("bad")
    assert actor.alive
    await actor.stop()


async def test_tells_are_handled_in_order_and_in_batches() -> None:
    actor = Echo()
    await actor.start()
    for i in range(50):
        actor.tell_nowait(i)
    await actor.ask("sync")
    assert actor.seen == list(range(50))
    assert actor.batches <= 3  # drained together, not one wake-up per message
    await actor.stop()


async def test_a_crash_in_a_tell_kills_the_actor_and_fails_pending_asks() -> None:
    actor = Echo()
    deaths: list[BaseException | None] = []
    actor.watch(lambda _a, error: deaths.append(error))
    await actor.start()
    later = asyncio.ensure_future(actor.ask("later"))
    await asyncio.wait_for(asyncio.shield(_until(lambda: actor.later is not None, actor)), 5)
    actor.tell_nowait("crash")
    with pytest.raises(ActorDeadError):
        await asyncio.wait_for(later, 5)
    assert not actor.alive and isinstance(deaths[0], RuntimeError)
    with pytest.raises(ActorDeadError):
        actor.tell_nowait("x")


async def _until(condition: Any, actor: Echo) -> None:
    while not condition():
        await actor.ask("sync")


async def test_a_full_mailbox_refuses_nowait_and_makes_tell_wait() -> None:
    actor = Echo(mailbox_size=2)  # not started: nothing drains it yet
    actor.tell_nowait(1)
    actor.tell_nowait(2)
    with pytest.raises(WouldBlock):
        actor.tell_nowait(3)
    telling = actor.tell(3)
    room = telling.send(None)  # runs until it waits: for room in the mailbox, nothing else
    assert isinstance(room, asyncio.Future) and not room.done()
    await actor.start()  # draining the mailbox makes room
    await asyncio.wait_for(room, 5)
    with pytest.raises(StopIteration):  # the tell then goes through
        telling.send(None)
    await actor.ask("sync")
    assert actor.seen == [1, 2, 3]
    await actor.stop()


async def test_timers_post_messages_to_the_actor() -> None:
    actor = Echo()
    await actor.start()
    actor.send_after(0.01, "tick")
    await asyncio.wait_for(_until(lambda: "tick" in actor.seen, actor), 5)
    await actor.stop()
