"""Another process of the app: joins the dispatcher, knows only a task id, prints its result."""

import asyncio
import sys

from zq import AsyncTaskiqTask, ZeroMQBroker


async def main(address: str, task_id: str) -> None:
    async with ZeroMQBroker(address) as broker:
        assert broker.dispatcher is None, "expected to join, not to bind"
        task: AsyncTaskiqTask[int] = AsyncTaskiqTask(task_id, broker.result_backend)
        result = await task.wait_result(timeout=30)
        print(f"RESULT {result.return_value}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
