"""One joined producer of ``bench/throughput.py --joined N``: kicks into another's dispatcher.

    python bench/joined.py ADDRESS TASKS RUNS

Joins the dispatcher bound at ADDRESS (the benchmark's producer), prints ``ready``, then for
each of RUNS lines on stdin kicks TASKS no-op tasks one after another, awaits their results and
prints ``done <seconds>``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tasks import broker, noop
from zq import ZeroMQBroker, gather


async def main(address: str, tasks: int, runs: int) -> None:
    producer = ZeroMQBroker(address)
    producer.available_tasks = broker.available_tasks
    noop.broker = producer
    async with producer:
        assert producer.dispatcher is None, "it bound the address: nothing to join"
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        for _ in range(runs):
            await loop.run_in_executor(None, sys.stdin.readline)
            start = time.perf_counter()
            await gather(*[await noop.kiq() for _ in range(tasks)], timeout=120)
            print(f"done {time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
