"""Another process of the app: joins the dispatcher and cancels tasks by id, prints outcomes."""

import asyncio
import sys

from zq import ZeroMQBroker


async def main(address: str, task_ids: list[str]) -> None:
    async with ZeroMQBroker(address) as broker:
        assert broker.dispatcher is None, "expected to join, not to bind"
        print("OUTCOMES", *await broker.cancel_many(task_ids), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
