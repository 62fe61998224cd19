"""The flood's producer (fault case 6), in a process of its own so that its memory is its own.

    python -m tests.faults.flood_producer ADDRESS LOG COUNT

Kicks COUNT ``noop`` tasks one after another as fast as kiq() returns, keeping no reference
to them; prints ``rss <kicked> <MB>`` every 50,000 kicks and once all completed, then ``done``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.faults import app
from zq import ZeroMQBroker

EVERY = 50_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmRSS")


async def main(address: str, log: str, count: int) -> None:
    async with ZeroMQBroker(address, heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        await broker.wait_workers(2)
        kicker = app.noop.kicker().with_broker(broker)
        for i in range(count):
            await kicker.kiq(i, log)
            if (i + 1) % EVERY == 0:
                print(f"rss {i + 1} {rss_mb():.1f}", flush=True)
        stats = await broker.wait_until(lambda s: s["stats"].completed >= count)
        print(f"rss {count} {rss_mb():.1f}", flush=True)
        print(
            f"done waited={broker.dispatcher.admission.waited if broker.dispatcher else 0} "
            f"completed={stats['stats'].completed}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
