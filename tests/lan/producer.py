"""The test bed's producer: binds the dispatcher in its host, kicks tasks, reports as JSON.

    python tests/lan/producer.py BIND --workers N --tasks N [--in-flight N] [--seconds S]
        [--delay S] [--first N] [--announce APP | --discover APP] [--settle S]
        [--route QUEUE=ADDRESS]... [--split QUEUE]

Prints ``ready`` once bound, then waits for ``--workers`` executor processes, kicks
``--tasks`` tasks of ``tests.lan.lan_app:work`` keeping at most ``--in-flight`` unfinished,
and prints one JSON line: when the workers had joined, the time taken, the p50 and p99 round
trip of a task (kiq to result, ms) and the dispatcher's stats (with ``--settle``, once they
count the duplicate runs the test read in the execution log and wrote to stdin).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from zq import ZeroMQBroker
from zq.kicker import AsyncKicker


async def main(args: argparse.Namespace) -> None:
    lan = {"app_name": args.announce or args.discover, "announce": bool(args.announce)}
    lan["discover"] = bool(args.discover)
    routes = dict(route.split("=", 1) for route in args.route)
    lan["routes"] = routes
    async with ZeroMQBroker(args.bind, heartbeat_s=0.2, liveness_timeout_s=1.0, **lan) as broker:
        print("ready", flush=True)
        if args.workers:  # (a producer that joined another dispatcher waits for nobody)
            await asyncio.wait_for(broker.wait_workers(args.workers), 60)
        joined_at = time.time()
        labels = {"delay": args.delay} if args.delay else {}
        work = AsyncKicker("tests.lan.lan_app:work", broker, labels)
        room = asyncio.Semaphore(args.in_flight)
        trips: list[float] = []

        split = AsyncKicker("tests.lan.lan_app:work", broker, {**labels, "queue": args.split})

        async def one(i: int) -> None:
            start = time.perf_counter()
            handle = await (split if i % 2 and args.split else work).kiq(i, args.seconds)
            result = await handle.wait_result(timeout=120)
            assert result.return_value == i, result
            trips.append(time.perf_counter() - start)
            room.release()

        started = time.perf_counter()
        running = []
        for i in range(args.first, args.first + args.tasks):
            await room.acquire()
            running.append(asyncio.ensure_future(one(i)))
        await asyncio.gather(*running)
        took = time.perf_counter() - started
        trips.sort()
        if args.settle:  # the test says how many runs it saw twice: until they are all counted
            print("done", flush=True)
            told = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            twice = int(told)
            await asyncio.wait_for(
                broker.wait_until(lambda s: s["stats"].duplicates >= twice), args.settle
            )
        found = await broker.stats()
        stats = dataclasses.asdict(found["stats"]) if found else {}
        print(
            json.dumps(
                {
                    "tasks": args.tasks,
                    "joined_at": joined_at,
                    "bound": broker.dispatcher is not None,
                    "seconds": took,
                    "p50_ms": statistics.median(trips) * 1000,
                    "p99_ms": trips[int(len(trips) * 0.99)] * 1000,
                    "min_ms": trips[0] * 1000,
                    "stats": {k: v for k, v in stats.items() if isinstance(v, int | float)},
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bind")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="the first task's number")
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--announce", metavar="APP", help="announce the dispatcher as APP")
    parser.add_argument("--discover", metavar="APP", help="join a dispatcher of APP first")
    parser.add_argument("--route", action="append", default=[], metavar="QUEUE=ADDRESS")
    parser.add_argument("--split", metavar="QUEUE", help="odd-numbered tasks go to QUEUE")
    parser.add_argument("--delay", type=float, default=0.0, help="each task's delay label")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="once done, read a count of duplicate runs from stdin and wait (at most this "
        "many seconds) until the stats count them: late results of a partitioned worker",
    )
    asyncio.run(main(parser.parse_args()))
