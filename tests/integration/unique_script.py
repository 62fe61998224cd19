"""Another process of the app: kicks the unique task kept by ``unique_for``, prints its result."""

import asyncio
import sys

from zq import ZeroMQBroker
from zq.kicker import AsyncKicker


async def main(address: str, log: str) -> None:
    async with ZeroMQBroker(address) as broker:
        assert broker.dispatcher is None, "expected to join, not to bind"
        labels = {"unique_key": "r", "unique_for": 600}
        kicker = AsyncKicker("tests.integration.app_tasks:record_held", broker, labels)
        result = await (await kicker.kiq("kept", log, None)).wait_result(timeout=30)
        print(f"RESULT {result.return_value}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
