"""The ``unique_key`` label: kicks of one task with one key while it is held are that task."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import Worker, read_log
from zq import InMemoryBroker, ZeroMQBroker, gather
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"


async def test_a_hundred_concurrent_kicks_with_one_key_run_once(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log, fifo = tmp_path / "exec.log", tmp_path / "release"
    os.mkfifo(fifo)
    workers(producer.endpoint, "-w", "2")
    await asyncio.wait_for(producer.wait_workers(2), 30)
    kicker = AsyncKicker(f"{APP}:record_held", producer, {"unique_key": "report-42"})
    handles = await asyncio.gather(*(kicker.kiq("once", str(log), str(fifo)) for _ in range(100)))
    assert {h.task_id for h in handles} == {
        "unique:tests.integration.app_tasks:record_held:report-42"
    }
    await asyncio.to_thread(fifo.write_text, "go")  # the one run ends: every kick came while it ran
    results = await gather(*handles, timeout=30)
    assert [r.return_value for r in results] == ["once done"] * 100
    assert read_log(log)[0] == {"once": 1}
    # finished: the key is free, the next kick is a new run
    again = await (await kicker.kiq("twice", str(log), None)).wait_result(timeout=30)
    assert again.return_value == "twice done" and read_log(log)[0] == {"once": 1, "twice": 1}


async def test_the_in_memory_broker_keeps_one_run_per_key_too() -> None:
    broker = InMemoryBroker()
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    @broker.task(unique_key="k")
    async def job(n: int) -> int:
        runs.append(n)
        started.set()
        await release.wait()
        return n

    first = await job.kiq(1)
    await started.wait()
    others = [await job.kiq(i) for i in range(2, 12)]
    release.set()
    results = await gather(first, *others, timeout=5)
    assert runs == [1] and [r.return_value for r in results] == [1] * 11
    assert (await (await job.kiq(99)).wait_result(timeout=5)).return_value == 99
    await broker.shutdown()
