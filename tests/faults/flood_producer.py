"""The flood's producer (fault case 6), in a process of its own so that its memory is its own.

    python -m tests.faults.flood_producer MODE ADDRESS LOG COUNT

``sequential``: kicks COUNT ``noop`` tasks one after another as fast as kiq() returns,
keeping no reference to them; prints ``rss <kicked> <MB>`` every 50,000 kicks and once all
completed, then ``done``.

``concurrent``: starts COUNT kiq() calls at once (one coroutine each, as
``asyncio.gather(*(task.kiq(i) for i in ...))`` does), keeping no handle; prints
``rss <kicked> <MB>`` every half second and once all completed, then ``done``.

``baseline``: the same COUNT coroutines, awaiting an event instead of kiq(), and no broker:
prints ``rss -1 <MB>`` before it makes them, ``rss 0 <MB>`` once they all wait, then
``done``. The difference to ``concurrent`` is what zq itself costs; the caller's own million
coroutines cost what asyncio charges for them.
"""

from __future__ import annotations

import asyncio
import os
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


async def sequential(broker: ZeroMQBroker, log: str, count: int) -> None:
    kicker = app.noop.kicker().with_broker(broker)
    for i in range(count):
        await kicker.kiq(i, log)
        if (i + 1) % EVERY == 0:
            print(f"rss {i + 1} {rss_mb():.1f}", flush=True)


async def concurrent(broker: ZeroMQBroker, log: str, count: int) -> None:
    kicker = app.noop.kicker().with_broker(broker)
    kicked = 0

    async def kick(i: int) -> None:
        nonlocal kicked
        await kicker.kiq(i, log)  # the handle is dropped: fire and forget
        kicked += 1

    async def sample() -> None:
        while True:
            await asyncio.sleep(0.5)  # a sampling period, not a wait for anything
            print(f"rss {kicked} {rss_mb():.1f}", flush=True)

    sampler = asyncio.get_running_loop().create_task(sample())
    try:
        await asyncio.gather(*(kick(i) for i in range(count)))
    finally:
        sampler.cancel()


async def baseline(count: int) -> None:
    print(f"rss -1 {rss_mb():.1f}", flush=True)  # before any of them
    event, all_waiting = asyncio.Event(), asyncio.Event()
    waiting = 0

    async def kick(i: int) -> None:
        nonlocal waiting
        waiting += 1
        if waiting == count:
            all_waiting.set()
        await event.wait()

    gathered = asyncio.ensure_future(asyncio.gather(*(kick(i) for i in range(count))))
    await all_waiting.wait()
    assert not gathered.done()  # all of them wait, held by the gather
    print(f"rss 0 {rss_mb():.1f}", flush=True)
    print("done", flush=True)
    # Measured: waking and collecting a million coroutines would only take time (10 s here).
    os._exit(0)


async def main(mode: str, address: str, log: str, count: int) -> None:
    if mode == "baseline":
        await baseline(count)
        return
    async with ZeroMQBroker(address, heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        await broker.wait_workers(2)
        await (sequential if mode == "sequential" else concurrent)(broker, log, count)
        stats = await broker.wait_until(lambda s: s["stats"].completed >= count)
        print(f"rss {count} {rss_mb():.1f}", flush=True)
        print(
            f"done waited={broker.dispatcher.admission.waited if broker.dispatcher else 0} "
            f"completed={stats['stats'].completed}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
