"""Where a timed run of ``bench/throughput.py`` spends its time: kicking, then draining.

    .venv/bin/python bench/phases.py [--tasks 20000] [--runs 5] [--workers 2]
        [--max-prefetch 0 100]

A timed run kicks ``--tasks`` no-op tasks one ``await kiq()`` after another, then awaits all
their results. A ``kiq()`` that has room never waits, so the caller does not yield while it
kicks: the dispatcher (an actor on the same loop) and the workers start only once it awaits
the results. Each run is split there: the kick phase (per task, and in all) and the drain
(until the last result is in). Rows: the raw transport (``bench/raw.py``, whose kick queues an
encoded message), then zq for each ``--max-prefetch`` its workers are started with (the
capacity each worker process grants the dispatcher is ``max_async_tasks + max_prefetch``;
the raw transport's window is ``max_async_tasks``' default, 100). Medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import raw  # noqa: E402
from bench.tasks import broker, noop  # noqa: E402
from zq import ZeroMQBroker, gather  # noqa: E402

Phases = tuple[float, float]  # (kick seconds, drain seconds) of one run


async def timed_runs(
    kick_all: Callable[[int], Awaitable[list[Any]]],
    drain: Callable[[list[Any]], Awaitable[object]],
    tasks: int,
    runs: int,
) -> list[Phases]:
    """``runs`` runs of ``tasks`` kicks (``kick_all``), each then drained: their phases."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        handles = await kick_all(tasks)
        kicked = time.perf_counter()
        await drain(handles)
        out.append((kicked - start, time.perf_counter() - kicked))
    return out


async def raw_phases(workers: int, tasks: int, runs: int) -> list[Phases]:
    """The raw transport's phases (its kick returns a future; the drain gathers them)."""
    producer = raw.Producer(100)
    cmd = [sys.executable, str(ROOT / "bench/raw.py"), "--serve", producer.address]
    procs = [subprocess.Popen(cmd) for _ in range(workers)]
    try:
        while len(producer.room) < workers:
            producer.joined.clear()
            await asyncio.wait_for(producer.joined.wait(), 30)
        await asyncio.gather(*[producer.kick() for _ in range(2000)])  # warm-up

        async def kick_all(n: int) -> list[asyncio.Future[bytes]]:
            return [producer.kick() for _ in range(n)]  # (a plain call: nothing to await)

        async def drain(futures: list[asyncio.Future[bytes]]) -> object:
            return await asyncio.gather(*futures)

        return await timed_runs(kick_all, drain, tasks, runs)
    finally:
        producer.close()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 10)


async def zq_phases(workers: int, tasks: int, runs: int, prefetch: int) -> list[Phases]:
    """zq's phases, with ``workers`` worker processes started with ``--max-prefetch``."""
    producer = ZeroMQBroker("tcp://127.0.0.1:*")
    producer.available_tasks = broker.available_tasks
    await producer.startup()
    noop.broker = producer
    cmd = [sys.executable, "-m", "zq", "worker", "bench.tasks:broker", "-w", str(workers)]
    cmd += ["--max-prefetch", str(prefetch), "--connect", producer.endpoint]
    proc = subprocess.Popen([*cmd, "--log-level", "WARNING"], cwd=ROOT)
    try:
        await asyncio.wait_for(producer.wait_workers(workers), 30)
        await gather(*[await noop.kiq() for _ in range(2000)], timeout=60)  # warm-up

        async def kick_all(n: int) -> list[Any]:
            return [await noop.kiq() for _ in range(n)]

        async def drain(handles: list[Any]) -> object:
            return await gather(*handles, timeout=120)

        return await timed_runs(kick_all, drain, tasks, runs)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 30)
        await producer.shutdown()


def row(label: str, phases: list[Phases], tasks: int) -> str:
    """One table row: medians of the kick phase, the drain, and the rate."""
    kick = statistics.median(p[0] for p in phases)
    drain = statistics.median(p[1] for p in phases)
    rate = statistics.median(tasks / (p[0] + p[1]) for p in phases)
    return (
        f"| {label} | {kick / tasks * 1e6:.2f} | {kick * 1e3:.0f} | {drain * 1e3:.0f} | "
        f"{rate:,.0f} |"
    )


async def main(args: argparse.Namespace) -> None:
    print(f"# {args.tasks} no-op tasks x {args.runs} runs, {args.workers} worker process(es)")
    print("| side | kick µs/task | kick ms | drain ms | tasks/s |")
    print("|---|---|---|---|---|")
    found = await raw_phases(args.workers, args.tasks, args.runs)
    print(row("raw transport (window 100)", found, args.tasks), flush=True)
    for prefetch in args.max_prefetch:
        found = await zq_phases(args.workers, args.tasks, args.runs, prefetch)
        print(row(f"zq, --max-prefetch {prefetch}", found, args.tasks), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-prefetch", type=int, nargs="+", default=[0, 100])
    uvloop.run(main(parser.parse_args()))
