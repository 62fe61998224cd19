"""``concurrency_key`` / ``max_concurrency``: a cluster-wide limit, with real workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import Worker, read_log
from zq import ZeroMQBroker, gather
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"


def most_at_once(log: Path) -> int:
    """The largest number of runs between their start and end lines at any moment."""
    events = []
    for line in log.read_text().splitlines():
        kind, _i, at = line.split()[0].split("/")
        events.append((int(at), 1 if kind == "start" else -1))
    running = peak = 0
    for _at, step in sorted(events):
        running += step
        peak = max(peak, running)
    return peak


async def test_never_more_than_max_concurrency_run_at_once_across_workers(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    limited, free = tmp_path / "limited.log", tmp_path / "free.log"
    workers(producer.endpoint, "-w", "3", "--max-async-tasks", "10")
    await asyncio.wait_for(producer.wait_workers(3), 30)
    key = {"concurrency_key": "fragile-api", "max_concurrency": 2}
    capped = AsyncKicker(f"{APP}:span", producer, key)
    plain = AsyncKicker(f"{APP}:span", producer, {})
    handles = [await capped.kiq(i, str(limited), 0.05) for i in range(30)]
    handles += [await plain.kiq(i, str(free), 0.3) for i in range(20)]
    results = await gather(*handles, timeout=60)
    assert not any(r.is_err for r in results)
    assert sum(read_log(limited)[0].values()) == 60  # every run started and ended once
    assert most_at_once(limited) == 2
    assert most_at_once(free) > 2  # the limit is the key's, not the worker's
