"""Memory per queued task: kick N no-op tasks with no worker, keep no handles, read RSS.

    .venv/bin/python bench/queued.py [--tasks 500000] [--payload BYTES] [--journal]

The process's resident set (``VmRSS`` in ``/proc/self/status``) after start-up and a warm-up,
then after ``--tasks`` ``kiq()`` calls whose handles are dropped at once (the dispatcher holds
the tasks pending, ``max_pending`` raised to fit), divided by the count: what one waiting task
costs the process that embeds the dispatcher. ``--payload N``: each task (``sink``) carries an
argument of N bytes instead of none (``noop``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tasks import broker, noop, sink  # noqa: E402
from zq import ZeroMQBroker  # noqa: E402


def rss_bytes() -> int:
    """This process's resident set now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = os.path.join(tmp, "zq.db") if args.journal else None
        producer = ZeroMQBroker(
            "tcp://127.0.0.1:*", max_pending=args.tasks + 10_000, journal=journal
        )
        producer.available_tasks = broker.available_tasks
        noop.broker = sink.broker = producer
        data = os.urandom(args.payload)

        async def kick() -> None:
            if args.payload:
                await sink.kiq(data)
            else:
                await noop.kiq()

        async with producer:
            for _ in range(1000):  # warm-up: the first allocations of every structure
                await kick()
            gc.collect()
            before = rss_bytes()
            start = time.perf_counter()
            for _ in range(args.tasks):
                await kick()
            took = time.perf_counter() - start
            everything = args.tasks + 1000  # the warm-up's are pending too
            await producer.wait_until(lambda s: s["pending"] >= everything)
            gc.collect()
            after = rss_bytes()
            pending = (await producer.stats())["pending"]
    per_task = (after - before) / args.tasks
    print(
        f"| {args.tasks:,} queued{f', {args.payload:,} B argument' if args.payload else ''}"
        f"{' + journal' if journal else ''} | {pending:,} pending | "
        f"RSS {before / 2**20:.0f} -> {after / 2**20:.0f} MiB | {per_task:.0f} bytes/task | "
        f"kicked in {took:.1f} s |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=500_000)
    parser.add_argument("--payload", type=int, default=0, help="argument bytes per task")
    parser.add_argument("--journal", action="store_true")
    uvloop.run(main(parser.parse_args()))
