"""The ``priority`` label: higher runs first, with a real worker (one slot, prefetch 0)."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import Worker, wait_for_log
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"


async def test_tasks_kicked_while_the_worker_is_busy_run_in_priority_order(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log, fifo = tmp_path / "exec.log", tmp_path / "release"
    os.mkfifo(fifo)
    workers(producer.endpoint, "-w", "1", "--max-async-tasks", "1", "--max-prefetch", "0")
    await asyncio.wait_for(producer.wait_workers(1), 30)
    blocker = AsyncKicker(f"{APP}:wait_for_fifo", producer, {})
    await blocker.kiq(str(fifo), str(log))
    await wait_for_log(log, lambda counts: counts["blocker"] == 1, timeout=30)
    rng = random.Random(18)
    levels = [rng.choice([-5, 0, 0, 1, 3, 10]) for _ in range(1000)]
    for i, level in enumerate(levels):
        kicker = AsyncKicker(f"{APP}:record", producer, {"priority": level})
        await kicker.kiq(f"p{level}/{i}", str(log))
    await asyncio.to_thread(fifo.write_text, "go")  # the worker's one slot is free now
    await wait_for_log(log, lambda counts: counts.total() == 1001, timeout=60)
    ran = [line.split()[0] for line in log.read_text().splitlines()][1:]
    ran_levels = [int(token[1:].split("/")[0]) for token in ran]
    assert ran_levels == sorted(levels, reverse=True)  # never a lower one before a higher one
    for level in set(levels):  # and within one priority, in kick order
        order = [int(t.split("/")[1]) for t in ran if t.startswith(f"p{level}/")]
        assert order == sorted(order)
