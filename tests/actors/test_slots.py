"""The executor's slots: a stop that arrives in the same wake-up as its task still stops it."""

from __future__ import annotations

import asyncio

from zq.actors.slots import SlotPool
from zq.core.messages import ResultMsg, TaskMsg


async def test_a_task_stopped_before_its_idle_slot_took_it_never_runs() -> None:
    ran: list[str] = []
    results: list[ResultMsg] = []
    finished = asyncio.Event()

    async def run(task: TaskMsg, _origin: None) -> ResultMsg:
        ran.append(task.task_id)
        return ResultMsg(task.task_id, False, b"", 0.0)

    def done(item: tuple[None, ResultMsg]) -> None:
        results.append(item[1])
        finished.set()

    pool: SlotPool[None] = SlotPool(run, done)
    pool.start(asyncio.get_running_loop(), 1)
    await asyncio.sleep(0)  # the slot is idle, waiting for a task
    pool.offer(None, TaskMsg("t", "app:t", b""))  # handed to the idle slot...
    pool.stop(["t"])  # ...and stopped before the slot woke up to take it
    await asyncio.wait_for(finished.wait(), 5)
    assert ran == []
    assert results[0].is_err and results[0].error is not None
    assert results[0].error.qualname == "TaskCancelledError"
    assert "before it started" in results[0].error.message
    for slot in pool._slots:
        slot.cancel()
