"""The executor's slots: a stop that arrives in the same wake-up as its task still stops it."""

from __future__ import annotations

import asyncio

from zq.actors.slots import SlotPool
from zq.core.messages import ResultMsg, TaskMsg


async def test_a_task_stopped_before_its_idle_slot_took_it_never_runs() -> None:
    ran: list[str] = []
    finished = asyncio.Queue[ResultMsg]()

    async def run(task: TaskMsg, _origin: None) -> ResultMsg:
        ran.append(task.task_id)
        return ResultMsg(task.task_id, False, b"", 0.0)

    def done(item: tuple[None, ResultMsg]) -> None:
        finished.put_nowait(item[1])

    pool: SlotPool[None] = SlotPool(run, done)
    pool.start(asyncio.get_running_loop(), 1)
    # A first task's result: once it is in, the slot has gone back to wait for the next one.
    pool.offer(None, TaskMsg("first", "app:t", b""))
    assert (await asyncio.wait_for(finished.get(), 5)).task_id == "first"
    pool.offer(None, TaskMsg("t", "app:t", b""))  # handed to the idle slot...
    pool.stop(["t"])  # ...and stopped before the slot woke up to take it
    stopped = await asyncio.wait_for(finished.get(), 5)
    assert ran == ["first"]
    assert stopped.is_err and stopped.error is not None
    assert stopped.error.qualname == "TaskCancelledError"
    assert "before it started" in stopped.error.message
    for slot in pool._slots:
        slot.cancel()
