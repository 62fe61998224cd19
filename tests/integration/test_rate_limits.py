"""The ``rate_limit`` label, cluster-wide: 3 worker processes, starts read from the tasks' log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import Worker
from zq import ZeroMQBroker, gather
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"
JITTER_S = 0.05  # a released task starts within this of its release (windows are cut by it)


def starts(log: Path) -> list[float]:
    """The start times (seconds, one monotonic clock for the host) in a ``span`` log."""
    found = []
    for line in log.read_text().splitlines():
        kind, _i, at = line.split()[0].split("/")
        if kind == "start":
            found.append(int(at) / 1e9)
    return sorted(found)


def most_in_a_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


async def test_fifty_per_second_across_three_workers_and_a_limit_per_key(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    workers(producer.endpoint, "-w", "3", "--max-async-tasks", "50")
    await asyncio.wait_for(producer.wait_workers(3), 30)
    shared, per_key = tmp_path / "shared.log", {k: tmp_path / f"{k}.log" for k in "ab"}
    # Warm the workers up first: a process that runs its first tasks late (a busy machine)
    # would start two buckets' worth at once and blur what is measured.
    warm = AsyncKicker(f"{APP}:span", producer, {})
    await gather(*[await warm.kiq(i, str(tmp_path / "warm.log"), 0.0) for i in range(60)])
    kicks = []
    limited = AsyncKicker(f"{APP}:span", producer, {"rate_limit": "50/s"})
    kicks += [limited.kiq(i, str(shared), 0.0) for i in range(230)]
    for key, log in per_key.items():
        keyed = AsyncKicker(f"{APP}:span", producer, {"rate_limit": "20/s", "rate_limit_key": key})
        kicks += [keyed.kiq(i, str(log), 0.0) for i in range(60)]
    results = await gather(*[await kick for kick in kicks], timeout=60)
    assert not any(r.is_err for r in results)

    times = starts(shared)
    in_first = [t for t in times if t < times[0] + 3.5]  # windows at 0, 1, 2, 3 s: 4 x 50
    assert 180 <= len(in_first) <= 220, len(in_first)
    assert most_in_a_window(times, 1.0 - JITTER_S) <= 50
    for log in per_key.values():  # each key on its own: 20 a second, 60 in about 2 s
        keyed_times = starts(log)
        assert len(keyed_times) == 60 and most_in_a_window(keyed_times, 1.0 - JITTER_S) <= 20
        assert keyed_times[-1] - keyed_times[0] >= 2.0 - JITTER_S
