"""What one round trip costs each side: sequential kiq -> result, zq against the raw transport.

    .venv/bin/python bench/trips.py [--trips 4000] [--rounds 3]
    .venv/bin/python bench/trips.py --instructions        (needs valgrind)

One worker process (`zq worker -w 1`, or ``bench/raw.py``'s worker), one task at a time, after
1,000 of warm-up. Per round, raw then zq: the p50, and the CPU time per trip of the producer
(all its threads, then its loop's thread alone) and of the worker process. Every trip crosses
both processes in turn, so on a machine this noisy the CPU columns move with the host as much
as the p50 does: compare rounds, not days.

``--instructions`` counts instead of timing: the same trips under callgrind (valgrind's
instruction counter), the producer and, separately, the worker, each from the difference of a
run of 200 and one of 1,200 trips (start-up and warm-up cancel out). The count is the same
whatever else the machine does (the timers' work, a few thousand instructions a second, aside):
it says whether a change made a round trip cheaper to run, where the clock cannot. A run takes
about four minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import raw  # noqa: E402
from bench.tasks import broker, noop  # noqa: E402
from zq import ZeroMQBroker  # noqa: E402

WARM_UP = 1000
Trip = Callable[[], Awaitable[object]]


def cpu_s(pid: int) -> float:
    """User + system CPU time of process ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def timed(trip: Trip, trips: int, worker_pid: int) -> dict[str, float]:
    """``trips`` round trips after the warm-up: p50 and CPU per trip (microseconds)."""
    for _ in range(WARM_UP):
        await trip()
    took = []
    cpu, loop_cpu, worker = time.process_time(), time.thread_time(), cpu_s(worker_pid)
    for _ in range(trips):
        start = time.perf_counter()
        await trip()
        took.append(time.perf_counter() - start)
    return {
        "p50": statistics.median(took) * 1e6,
        "producer": (time.process_time() - cpu) / trips * 1e6,
        "loop": (time.thread_time() - loop_cpu) / trips * 1e6,
        "worker": (cpu_s(worker_pid) - worker) / trips * 1e6,
    }


async def with_raw(trips: int, worker_prefix: list[str]) -> dict[str, float]:
    """Round trips over ``bench/raw.py``'s producer and worker."""
    producer = raw.Producer(100)
    command = [sys.executable, str(ROOT / "bench/raw.py"), "--serve", producer.address]
    proc = subprocess.Popen(worker_prefix + command)
    try:
        await asyncio.wait_for(producer.joined.wait(), 120)
        return await timed(producer.kick, trips, proc.pid)
    finally:
        producer.close()
        await asyncio.to_thread(proc.wait, 120)


async def with_zq(trips: int, worker_prefix: list[str]) -> dict[str, float]:
    """Round trips of ``noop.kiq()`` + ``wait_result`` through one `zq worker -w 1`."""
    producer = ZeroMQBroker("tcp://127.0.0.1:*")
    producer.available_tasks = broker.available_tasks
    await producer.startup()
    noop.broker = producer
    assert producer.endpoint is not None
    command = [sys.executable, "-m", "zq", "worker", "bench.tasks:broker", "-w", "1"]
    command += ["--connect", producer.endpoint, "--log-level", "WARNING"]
    proc = subprocess.Popen(worker_prefix + command, cwd=ROOT)
    try:
        await asyncio.wait_for(producer.wait_workers(1), 120)
        stats = await producer.stats()
        pid = next(iter(stats["executors"].values())).pid

        async def trip() -> object:
            return await (await noop.kiq()).wait_result(timeout=60)

        return await timed(trip, trips, pid)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 120)  # (the dispatcher answers its Bye meanwhile)
        await producer.shutdown()


SIDES = {"raw": with_raw, "zq": with_zq}


def instructions(side: str, out: Path) -> tuple[int, int]:
    """Instructions per trip of ``side``: (producer, worker), from 200 and 1,200 trips."""
    totals: dict[tuple[str, int], int] = {}
    for trips in (200, 1200):
        for who in ("producer", "worker"):
            files = out / f"{side}-{who}-{trips}"
            files.mkdir()
            grind = ["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={files}/%p"]
            child = [sys.executable, __file__, "--side", side, "--trips", str(trips)]
            if who == "producer":
                subprocess.run(grind + child, check=True, stdout=subprocess.DEVNULL)
            else:
                grind.append("--trace-children=yes")  # (zq worker: a supervisor and its child)
                subprocess.run(
                    [*child, "--worker-prefix", " ".join(grind)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            totals[who, trips] = sum(_total(f) for f in files.iterdir())
    per_trip = [(totals[who, 1200] - totals[who, 200]) // 1000 for who in ("producer", "worker")]
    return per_trip[0], per_trip[1]


def _total(callgrind_out: Path) -> int:
    for line in callgrind_out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trips", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # one run, for valgrind
    parser.add_argument("--worker-prefix", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        uvloop.run(SIDES[args.side](args.trips, args.worker_prefix.split()))
        return
    print(f"# {os.cpu_count()} cores, CPython {sys.version.split()[0]}, {sys.platform}")
    if args.instructions:
        print("| side | producer instructions/trip | worker instructions/trip |")
        print("|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp:
            for side in SIDES:
                producer, worker = instructions(side, Path(tmp))
                print(f"| {side} | {producer:,} | {worker:,} |")
        return
    print(f"# {args.trips} sequential round trips per row, one worker process")
    print(
        "| round | side | p50 µs | producer CPU µs/trip | its loop's thread | worker CPU µs/trip |"
    )
    print("|---|---|---|---|---|---|")
    for n in range(1, args.rounds + 1):
        for side, run in SIDES.items():
            found = uvloop.run(run(args.trips, []))
            row = [found[k] for k in ("p50", "producer", "loop", "worker")]
            print(f"| {n} | {side} | " + " | ".join(f"{v:.0f}" for v in row) + " |")


if __name__ == "__main__":
    main()
