"""The ``unique_key`` label: kicks of one task with one key while it is held are that task."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import ROOT, Worker, read_log
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


async def test_unique_for_keeps_the_key_after_the_task_finished(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    workers(producer.endpoint, "-w", "1")
    await asyncio.wait_for(producer.wait_workers(1), 30)
    kept = AsyncKicker(f"{APP}:record_held", producer, {"unique_key": "r", "unique_for": 600})
    first = await (await kept.kiq("kept", str(log), None)).wait_result(timeout=30)
    again = await kept.kiq("kept", str(log), None)  # finished, but within unique_for
    assert (await again.wait_result(timeout=30)).return_value == first.return_value
    plain = AsyncKicker(f"{APP}:record_held", producer, {"unique_key": "p"})
    for _ in range(2):  # without unique_for, a finished task runs again on the next kick
        await (await plain.kiq("plain", str(log), None)).wait_result(timeout=30)
    assert read_log(log)[0] == {"kept": 1, "plain": 2}
    # Another process of the app that kicks it within the window gets the same result too.
    script = "tests.integration.unique_script"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", script, producer.endpoint, str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "RESULT kept done" in done.stdout
    assert read_log(log)[0] == {"kept": 1, "plain": 2}


async def test_the_in_memory_broker_keeps_the_key_for_unique_for() -> None:
    broker = InMemoryBroker()
    runs: list[int] = []

    @broker.task(unique_key="k", unique_for=600)
    async def job(n: int) -> int:
        runs.append(n)
        return n

    assert (await (await job.kiq(1)).wait_result(timeout=5)).return_value == 1
    assert (await (await job.kiq(2)).wait_result(timeout=5)).return_value == 1
    assert runs == [1]
    await broker.shutdown()
