"""A flood of no-op tasks: memory stays bounded and flat, nothing is lost (fault case 6)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import APP, Worker, rss_mb
from tests.integration.conftest import ROOT, free_address

COUNT = int(os.environ.get("ZQ_FLOOD_TASKS", "1000000"))


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def run_producer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.flood_producer", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


async def samples_of(
    producer: subprocess.Popen[str], host: Worker | None
) -> list[tuple[int, float, list[float]]]:
    """The producer's ``rss`` lines until ``done``: (kicked, its MB, the workers' MB)."""
    samples: list[tuple[int, float, list[float]]] = []
    try:
        assert producer.stdout is not None
        while True:
            line = await asyncio.wait_for(asyncio.to_thread(producer.stdout.readline), 300)
            assert line, "the flood producer exited early"
            if line.startswith("done"):
                return samples
            _, kicked, mb = line.split()
            workers = [rss_mb(c) for c in children(host.pid)] if host is not None else []
            samples.append((int(kicked), float(mb), workers))
    finally:
        if producer.poll() is None:
            producer.kill()
        producer.wait(30)


def lost_of(log: Path) -> int:
    seen = bytearray(COUNT)
    with log.open() as lines:
        for line in lines:
            seen[int(line.split(maxsplit=1)[0])] = 1
    return COUNT - sum(seen)


@pytest.mark.slow
async def test_a_flood_of_a_million_tasks_keeps_memory_bounded_and_loses_nothing(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Bounds: producer RSS < 300 MB and flat after warm-up; workers' RSS flat; lost = 0."""
    log, address = tmp_path / "log", free_address()
    host = workers(address, "-w", "2", app=APP)
    started = time.monotonic()
    samples = await samples_of(run_producer("sequential", address, str(log), str(COUNT)), host)
    elapsed = time.monotonic() - started
    lost = lost_of(log)
    producer_mb = [mb for _, mb, _ in samples]
    # Warm-up: until the result store holds its 100,000 results and the pending queue is at
    # its bound (about the first 350,000 kicks here); after it, memory must not grow.
    warm = [s for s in samples if s[0] >= COUNT * 2 // 5]
    worker_mb = [w for _, _, ws in warm for w in ws]
    print(
        f"\nFIGURES flood: {COUNT} tasks in {elapsed:.0f}s; producer RSS max "
        f"{max(producer_mb):.0f} MB, after warm-up {min(s[1] for s in warm):.0f}-"
        f"{max(s[1] for s in warm):.0f} MB; workers {min(worker_mb):.0f}-{max(worker_mb):.0f} MB;"
        f" lost {lost}"
    )
    assert lost == 0
    assert max(producer_mb) < 300
    assert max(s[1] for s in warm) - min(s[1] for s in warm) < 40  # flat
    assert max(worker_mb) - min(worker_mb) < 20


@pytest.mark.slow
@pytest.mark.timeout(240)  # 85-90 s alone on this 2-core machine; 120 s was hit under load
async def test_a_million_concurrent_kicks_stay_within_max_pending_and_lose_nothing(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Issue 15: 1,000,000 concurrent kiq() used to make 1,000,000 pending and a 2.1 GB
    producer. Bounds: what zq adds to the caller's own million coroutines < 300 MB (the
    README's flood bound); lost = 0."""
    log, address = tmp_path / "log", free_address()
    # asyncio's cost per waiting coroutine is linear: measured on a fifth of them and scaled
    # (a million took 19 s here; on 2026-11-30 a million measured 1,251.8 MB, 200,000 scaled
    # 1,258 MB)
    sample = COUNT // 5
    [(_, empty_mb, _), (_, some_mb, _)] = await samples_of(
        run_producer("baseline", "-", "-", str(sample)), None
    )
    own_mb = empty_mb + (some_mb - empty_mb) * COUNT / sample
    host = workers(address, "-w", "2", app=APP)
    started = time.monotonic()
    samples = await samples_of(run_producer("concurrent", address, str(log), str(COUNT)), host)
    elapsed = time.monotonic() - started
    lost = lost_of(log)
    peak = max(mb for _, mb, _ in samples)
    print(
        f"\nFIGURES concurrent flood: {COUNT} concurrent kiq() in {elapsed:.0f}s; producer RSS "
        f"max {peak:.0f} MB, of which its own {COUNT} waiting coroutines {own_mb:.0f} MB "
        f"(measured alone): zq {peak - own_mb:.0f} MB; lost {lost}"
    )
    assert lost == 0
    assert peak - own_mb < 300
