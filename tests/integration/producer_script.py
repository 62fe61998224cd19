"""A second producer process: joins the dispatcher already bound on ADDRESS, kicks N tasks,
checks every result, and prints `OK <n>`."""

import asyncio
import sys

from zq import ZeroMQBroker, gather
from zq.kicker import AsyncKicker


async def main(address: str, n: int, prefix: str) -> None:
    async with ZeroMQBroker(address) as broker:
        assert broker.dispatcher is None, "expected to join, not to bind"
        kicker = "tests.integration.app_tasks:record"
        tokens = [f"{prefix}{i}" for i in range(n)]
        tasks = [await AsyncKicker(kicker, broker, {}).kiq(t, sys.argv[4]) for t in tokens]
        results = await gather(*tasks, timeout=60)
        assert [r.return_value for r in results] == tokens
    print(f"OK {n}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
