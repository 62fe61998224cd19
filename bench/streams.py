"""What a stream costs: the time to its first item next to one task's round trip, and items/s.

    .venv/bin/python bench/streams.py [--calls 300] [--items 200000] [--runs 5] [--workers 1]

One producer (it binds the dispatcher), real `zq worker` processes, loopback, uvloop. Each run
times, interleaved: ``--calls`` round trips of a no-op task one after another
(``await (await noop.kiq()).wait_result()``), ``--calls`` streams of 10 items, from the
``kiq()`` to the first item read (``handle.stream()``), and one stream of ``--items`` small
items read as fast as they come (the default window of 256). Prints the medians over the runs
and the ratio of the time to the first item to the round trip.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import served  # noqa: E402
from bench.tasks import count, noop  # noqa: E402


async def round_trips(calls: int) -> float:
    """Median milliseconds from ``kiq()`` to the result of a no-op task."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await (await noop.kiq()).wait_result(timeout=10)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def first_items(calls: int) -> float:
    """Median milliseconds from ``kiq()`` to the first item of a 10-item stream."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        stream = (await count.kiq(10)).stream()
        async for _ in stream:
            times.append(time.perf_counter() - start)
            break
        await stream.aclose()
    return statistics.median(times) * 1000


async def items_per_second(items: int) -> float:
    """Items per second of one stream read as fast as it comes."""
    start = time.perf_counter()
    read = 0
    async for _ in (await count.kiq(items)).stream():
        read += 1
    assert read == items
    return items / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> None:
    async with served(args.workers, noop, count):
        await round_trips(50)  # warm-up, every way
        await first_items(50)
        await items_per_second(10_000)
        trips, firsts, rates = [], [], []
        for _ in range(args.runs):
            trips.append(await round_trips(args.calls))
            firsts.append(await first_items(args.calls))
            rates.append(await items_per_second(args.items))
    print(
        f"# zq streams: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {args.workers} worker process(es), {args.calls} calls "
        f"x {args.runs} runs, interleaved"
    )
    t, f, r = statistics.median(trips), statistics.median(firsts), statistics.median(rates)
    print("| measure | median | runs |")
    print("|---|---|---|")
    print(f"| round trip of a no-op task (ms) | {t:.3f} | {', '.join(f'{x:.3f}' for x in trips)} |")
    print(
        f"| kiq to a stream's first item (ms) | {f:.3f} | {', '.join(f'{x:.3f}' for x in firsts)} |"
    )
    each = ", ".join(f"{x:,.0f}" for x in rates)
    print(f"| items/s, one stream of {args.items} | {r:,.0f} | {each} |")
    print(f"# first item / round trip: {f / t:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    uvloop.run(main(parser.parse_args()))
