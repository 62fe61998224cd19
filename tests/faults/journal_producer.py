"""A producer process for the dispatcher-crash case (fault case 4).

    python -m tests.faults.journal_producer kick ADDRESS JOURNAL LOG COUNT
    python -m tests.faults.journal_producer drain ADDRESS JOURNAL LOG

``kick`` binds ADDRESS, kicks COUNT ``work`` tasks (tokens t0, t1, ...), prints ``acked N``
once every kiq() returned, ``midway`` once a fifth of them completed, then waits to be
killed. ``drain`` binds ADDRESS again on the same JOURNAL, prints ``recovered N``, waits until
nothing is pending or in flight, prints ``drained D`` (D: the duplicates it counted), exits.
JOURNAL ``-`` means none.
"""

from __future__ import annotations

import asyncio
import sys

from tests.faults import app
from zq import ZeroMQBroker


async def main(mode: str, address: str, journal: str, log: str, count: int) -> None:
    broker = ZeroMQBroker(
        address,
        heartbeat_s=0.2,
        liveness_timeout_s=1.0,
        journal=None if journal == "-" else journal,
    )
    async with broker:
        if mode == "kick":
            kicker = app.work.kicker().with_broker(broker)
            for start in range(0, count, 500):
                group = range(start, min(count, start + 500))
                await asyncio.gather(*(kicker.kiq(f"t{i}", log, 0.01) for i in group))
            print(f"acked {count}", flush=True)
            await broker.wait_until(lambda s: s["stats"].completed >= count // 5)
            print("midway", flush=True)
            await asyncio.Event().wait()  # until SIGKILL
        else:
            stats = await broker.stats()
            print(f"recovered {stats['stats'].recovered}", flush=True)
            await broker.wait_workers(1)
            stats = await broker.wait_until(
                lambda s: s["pending"] + s["leased"] + s["delayed"] == 0
            )
            print(f"drained {stats['stats'].duplicates}", flush=True)


if __name__ == "__main__":
    mode, address, journal, log = sys.argv[1:5]
    asyncio.run(main(mode, address, journal, log, int(sys.argv[5]) if mode == "kick" else 0))
