"""Generator tasks streamed to the caller, on real `zq worker` processes (issue 21).

The oracle: the items themselves (each carries its index), and the tasks' execution log.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Worker, read_log, wait_for_log
from tests.integration.stream_app import rss_kib
from zq import ZeroMQBroker
from zq.exceptions import TaskCancelledError
from zq.kicker import AsyncKicker

APP = "tests.integration.stream_app"


def task(broker: ZeroMQBroker, name: str, **labels: Any) -> AsyncKicker[Any, Any]:
    return AsyncKicker(f"{APP}:{name}", broker, labels)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "executions.log"
    monkeypatch.setenv("ZQ_STREAM_LOG", str(path))  # the workers inherit it
    return path


@contextlib.asynccontextmanager
async def served(workers: Callable[..., Worker], hosts: int = 1) -> AsyncIterator[ZeroMQBroker]:
    settings: dict[str, Any] = {"heartbeat_s": 0.2, "liveness_timeout_s": 1.0}
    async with ZeroMQBroker("tcp://127.0.0.1:*", **settings) as broker:
        for _ in range(hosts):
            workers(broker.endpoint, "-w", "1", app=f"{APP}:broker")
        await broker.wait_workers(hosts)
        yield broker


async def test_a_hundred_thousand_items_in_order_and_a_slow_reader_keeps_memory_flat(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers) as broker:
        store = broker.result_store
        assert store is not None
        n, window = 100_000, 256
        handle = await task(broker, "rows").kiq(n, every=5_000, pad=200)
        expected, most_buffered = 0, 0
        worker_rss: list[int] = []
        producer_rss: list[int] = []
        async for index, rss, _ in handle.stream():
            assert index == expected
            expected += 1
            if rss:
                worker_rss.append(rss)
            if index % 200 == 0:  # a deliberately slow reader: the task must wait for it
                most_buffered = max(most_buffered, store.streams.buffered(handle.task_id))
                await asyncio.sleep(0.002)  # the reader's slowness, not a wait for anything
            if index % 5_000 == 0:
                producer_rss.append(rss_kib())
        assert expected == n
        # Sampled from the 10,000th item on (the first ones fill the window and the buffers).
        worker_growth = max(worker_rss[2:]) - worker_rss[2]
        producer_growth = max(producer_rss[2:]) - producer_rss[2]
        print(
            f"FIGURES stream: {n} items of ~220 B with a slow reader; worker RSS "
            f"{worker_rss[2] // 1024}->{max(worker_rss[2:]) // 1024} MiB, producer RSS "
            f"{producer_rss[2] // 1024}->{max(producer_rss[2:]) // 1024} MiB, at most "
            f"{most_buffered} items waiting for the reader (window {window})"
        )
        assert most_buffered <= window
        # Unbounded, 100,000 items of this size would hold over 20 MiB in either process.
        assert worker_growth < 6 * 1024 and producer_growth < 6 * 1024
        assert read_log(log)[0][f"rows-done/{n}"] == 1


async def test_sync_generators_errors_readers_in_tasks_and_results_without_reading(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers) as broker:
        stream = (await task(broker, "numbers").kiq(1000)).stream()
        assert [i async for i in stream] == list(range(1000))
        assert stream.result is not None and stream.result.return_value == "1000 numbers"

        got = []
        with pytest.raises(ValueError, match="broke after 3"):
            async for i in (await task(broker, "breaks").kiq(3)).stream():
                got.append(i)
        assert got == [0, 1, 2]  # every item before the error

        reads = await (await task(broker, "reads").kiq(5000)).wait_result(timeout=30)
        assert reads.return_value == sum(range(5000))  # a task read a stream in the worker

        # Awaiting only the result, or keeping no handle: the task does not wait for a reader.
        assert not (await (await task(broker, "rows").kiq(3000)).wait_result(timeout=30)).is_err
        await task(broker, "rows").kiq(3001)
        gc.collect()
        await wait_for_log(log, lambda ran: ran["rows-done/3001"] == 1, timeout=30)

        tracked = await task(broker, "tracked").kiq(50)
        assert [i async for i in tracked.stream()] == list(range(50))
        progress = await tracked.get_progress()
        assert progress is not None and progress.meta == 49

        small = task(broker, "rows", stream_window=4)  # a window smaller than the reader's step
        assert len([i async for i in (await small.kiq(100)).stream()]) == 100


async def test_a_cancelled_stream_ends_with_the_cancel(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers) as broker:
        handle = await task(broker, "rows").kiq(10**7)
        read = 0
        with pytest.raises(TaskCancelledError):
            async for _ in handle.stream():
                read += 1
                if read == 1000:
                    assert await handle.cancel() == "cancelling"
        assert read < 1000 + 2 * 256  # what was in flight when it stopped, no more
        assert read_log(log)[0]["rows-done/10000000"] == 0


async def test_a_worker_killed_mid_stream_the_rerun_goes_on_where_the_reader_was(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers, hosts=2) as broker:
        n = 20_000
        handle = await task(broker, "rows").kiq(n)
        expected = 0
        started = time.monotonic()
        async for index, _, _ in handle.stream():
            assert index == expected  # no item twice, none missing, across the two runs
            expected += 1
            if index == 5_000:
                ran = await wait_for_log(log, lambda ran: ran[f"rows/{n}"] == 1)
                assert ran
                pid = next(
                    int(line.split()[1])
                    for line in log.read_text().splitlines()
                    if line.startswith(f"rows/{n} ")
                )
                os.kill(pid, signal.SIGKILL)
        assert expected == n
        counts = read_log(log)[0]
        assert counts[f"rows/{n}"] == 2 and counts[f"rows-done/{n}"] == 1
        print(
            f"FIGURES stream: worker killed at item 5,000: {n} read once each, in order, "
            f"in {time.monotonic() - started:.1f}s"
        )


async def test_a_joined_producer_reads_a_stream(workers: Callable[..., Worker], log: Path) -> None:
    settings: dict[str, Any] = {"heartbeat_s": 0.2, "liveness_timeout_s": 1.0}
    async with (
        served(workers) as broker,
        ZeroMQBroker(broker.endpoint, **settings) as joined,  # the address is taken: joins
    ):
        assert joined.dispatcher is None
        stream = (await task(joined, "numbers").kiq(2000)).stream()
        assert [i async for i in stream] == list(range(2000))
