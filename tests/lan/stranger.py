"""A stranger on the test bed's LAN: a zq dispatcher with a key pair of its own that announces
itself as the app, under the app's real dispatcher key (what a spoofer copies), and holds tasks.

    python tests/lan/stranger.py BIND APP REAL_KEY_FILE --tasks N

Its CURVE key pair and the workers it lets in come from ``ZQ_CURVE_*``. Prints ``ready`` once
announced, then, when a line arrives on stdin, one JSON line: its stats (a worker that served
it would have completed its tasks).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from zq import ZeroMQBroker
from zq.kicker import AsyncKicker
from zq.transport.curve import read_public
from zq.transport.discovery import Announcer


async def main(args: argparse.Namespace) -> None:
    async with ZeroMQBroker(args.bind, heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        spoof = Announcer(args.app, broker.endpoint, read_public(args.real_key).decode())
        await spoof.start()
        work = AsyncKicker("tests.lan.lan_app:work", broker, {})
        for i in range(args.tasks):
            await work.kiq(1_000_000 + i)  # in the execution log if anyone ran them
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        stats = dataclasses.asdict((await broker.stats())["stats"])
        executors = len((await broker.stats())["executors"])
        print(json.dumps({"executors": executors, **stats}), flush=True)
        await spoof.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bind")
    parser.add_argument("app")
    parser.add_argument("real_key")
    parser.add_argument("--tasks", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
