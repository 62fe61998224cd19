"""zq's demo: start `zq worker` on examples/app.py, kick 10,000 tasks, print a summary.

Run it with `bin/demo` (which sets up .venv first). Options: --tasks N, --workers N.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from examples.app import add, broker, slow_sync  # noqa: E402
from zq import ZeroMQBroker, gather  # noqa: E402


def bar(done: int, total: int, started: float) -> None:
    width = 40
    filled = width * done // total
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stdout.write(
        f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:>6}/{total} {rate:>9,.0f} tasks/s"
    )
    sys.stdout.flush()


async def main(n: int, workers: int) -> None:
    producer = ZeroMQBroker("tcp://127.0.0.1:*")  # an embedded dispatcher on a free port
    producer.available_tasks = broker.available_tasks
    add.broker = slow_sync.broker = producer
    await producer.startup()
    print(f"dispatcher embedded in this process, bound to {producer.endpoint}")
    cmd = [
        sys.executable,
        "-m",
        "zq",
        "worker",
        "examples.app:broker",
        "--workers",
        str(workers),
        "--connect",
        producer.endpoint,
        "--log-level",
        "WARNING",
    ]
    print("starting:", " ".join(cmd[2:]))
    worker = subprocess.Popen(cmd, cwd=ROOT)
    try:
        await asyncio.wait_for(producer.wait_workers(workers), 30)
        print(f"{workers} worker process(es) joined; kicking {n:,} tasks")
        started = time.perf_counter()
        chunk = 500
        pending = []
        for first in range(0, n, chunk):
            ids = range(first, min(first + chunk, n))
            pending.append(gather(*[await add.kiq(i, i) for i in ids], timeout=120))
        done, ok, errors = 0, 0, 0
        for finished in asyncio.as_completed(pending):
            for result in await finished:
                done += 1
                ok += not result.is_err
                errors += result.is_err
            bar(done, n, started)
        elapsed = time.perf_counter() - started
        print()
        values = await gather(*[await add.kiq(i, i) for i in range(n)])
        correct = sum(r.return_value == 2 * i for i, r in enumerate(values))
        latencies = []
        for i in range(1000):
            t0 = time.perf_counter()
            await (await add.kiq(i, 1)).wait_result(timeout=10)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        sync = await (await slow_sync.kiq(21)).wait_result(timeout=10)
        print("summary")
        print(f"  results      {ok:,} ok, {errors} errors; {correct:,}/{n:,} checked correct")
        print(f"  throughput   {n / elapsed:,.0f} tasks/s ({n:,} tasks in {elapsed:.2f}s)")
        print(
            f"  latency      p50 {latencies[500]:.3f} ms, p99 {latencies[990]:.3f} ms "
            "(1,000 sequential kiq + wait_result)"
        )
        print(f"  sync task    slow_sync(21) = {sync.return_value} (ran in a worker thread)")
    finally:
        worker.send_signal(signal.SIGINT)
        await asyncio.to_thread(worker.wait, 30)  # the dispatcher answers its Bye meanwhile
        await producer.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="zq demo")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.workers))
