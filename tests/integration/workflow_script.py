"""A process of an app that binds the dispatcher with a journal, for the workflow crash test.

python -m tests.integration.workflow_script kick ADDRESS JOURNAL N
    kicks numbers(N) -> map(slow) -> total, prints ``kicked LAST_ID``, then serves (until
    it is killed)
python -m tests.integration.workflow_script finish ADDRESS JOURNAL LAST_ID
    binds again on the journal, prints ``recovered K``, waits for the pipeline's result,
    prints ``result VALUE``
"""

import asyncio
import sys

from zq import AsyncTaskiqTask, ZeroMQBroker
from zq.kicker import AsyncKicker
from zq.pipelines import Pipeline

APP = "tests.integration.workflow_app"


async def main(command: str, address: str, journal: str, arg: str) -> None:
    broker = ZeroMQBroker(address, journal=journal, heartbeat_s=0.2, liveness_timeout_s=1.0)
    broker.may_join = False  # this process is the dispatcher, or fails
    async with broker:
        if command == "kick":
            pipe = (
                Pipeline(broker, AsyncKicker(f"{APP}:numbers", broker, {}))
                .map(AsyncKicker(f"{APP}:slow", broker, {}))
                .call_next(AsyncKicker(f"{APP}:total", broker, {}))
            )
            handle = await pipe.kiq(int(arg))
            print(f"kicked {handle.task_id}", flush=True)
            await asyncio.Event().wait()  # serve until killed
        stats = await broker.stats()
        print(f"recovered {stats['stats'].recovered}", flush=True)
        handle = AsyncTaskiqTask(arg, broker.result_backend, broker=broker)
        result = await handle.wait_result(timeout=120)
        print(f"result {result.return_value if not result.is_err else result.error}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
