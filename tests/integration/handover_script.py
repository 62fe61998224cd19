"""A producer process for the handover tests: kicks N `record` tasks, then leaves.

    python -m tests.integration.handover_script ADDRESS N LOG PREFIX [options as JSON]

Binds ADDRESS (or joins whoever bound it), kicks N tasks without waiting for them, leaves
`async with` (the graceful stop under test) and prints the ShutdownReport as one JSON line.
With "results": true it waits for every result first and prints "RESULTS <n> <role>" (a
joined producer that must get all of its results back). With "hold": true it waits for a line
on stdin before leaving (so that a test can stop or kill it mid-way). With "until_stdin": true
it keeps kicking (at most N, one every "pace_s" seconds) until a line arrives on stdin. With
"fetch": true it kicks nothing and waits for the results of the tasks PREFIX0..PREFIX<N-1>
(kicked by processes gone by now), then prints "RESULTS <n> <role>". With "trace": true it
prints "K <n>" as each kiq() returns. With "start_stdin": true it kicks only after a line on
stdin.
"""

import asyncio
import json
import logging
import sys

from zq import AsyncTaskiqTask, ZeroMQBroker, gather
from zq.kicker import AsyncKicker

TASK = "tests.integration.app_tasks:record"


class TakeoverLine(logging.Handler):
    """Prints "TOOK OVER" on stdout when the broker logs that this process took over, and
    "ORPHANED" when its submitter finds the dispatcher gone, "RETRYING" when it could
    neither bind the address nor join a dispatcher there."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("took over "):
            print("TOOK OVER", flush=True)
        elif record.name == "zq.submitter" and "for the next one" in message:
            print("ORPHANED", flush=True)
        elif message.startswith("no dispatcher to take over from yet"):
            print("RETRYING", flush=True)


async def main(address: str, count: int, log_path: str, prefix: str, options: dict) -> None:
    broker = ZeroMQBroker(
        address,
        heartbeat_s=0.2,
        liveness_timeout_s=1.0,
        journal=options.get("journal"),
        shutdown_timeout_s=options.get("shutdown_timeout_s", 30.0),
    )
    async with broker:
        role = "bound" if broker.dispatcher is not None else "joined"
        print(f"STARTED {role}", flush=True)
        if options.get("fetch"):
            ids = [f"{prefix}{n}" for n in range(count)]
            found = [AsyncTaskiqTask(i, broker.result_backend) for i in ids]
            results = await gather(*found, timeout=120)
            assert [r.return_value for r in results] == ids
            print(f"RESULTS {len(results)} {role}", flush=True)
            count = 0
        kicker = AsyncKicker(TASK, broker, {})
        loop = asyncio.get_running_loop()
        if options.get("start_stdin"):  # kick only once told to
            await loop.run_in_executor(None, sys.stdin.readline)
        stop = (
            loop.run_in_executor(None, sys.stdin.readline) if options.get("until_stdin") else None
        )
        tasks = []
        for n in range(count):
            if stop is not None and stop.done():
                break
            token = f"{prefix}{n}"
            tasks.append(await kicker.with_task_id(token).kiq(token, log_path))
            if options.get("trace"):
                print(f"K {n}", flush=True)  # this kiq() returned
            if options.get("pace_s"):
                await asyncio.sleep(options["pace_s"])  # a steady stream, not a burst
        print(f"KICKED {len(tasks)}", flush=True)
        if options.get("results"):
            results = await gather(*tasks, timeout=120)
            assert [r.return_value for r in results] == [t.task_id for t in tasks]
            assert not [r for r in results if r.is_err]
            role = "bound" if broker.dispatcher is not None else "joined"
            print(f"RESULTS {len(results)} {role}", flush=True)
        if options.get("stats") and broker.dispatcher is not None:
            stats = (await broker.stats())["stats"]
            print(f"STATS {stats.duplicates} {stats.requeued}", flush=True)
        if options.get("hold"):
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    report = broker.last_shutdown  # what leaving `async with` returned from shutdown()
    assert report is not None
    summary = {"unfinished": len(report.unfinished), "kept_by": report.kept_by}
    print("REPORT " + json.dumps({**summary, "lost": len(report.lost)}), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    for name in ("zq.broker", "zq.submitter"):
        logging.getLogger(name).addHandler(TakeoverLine())
    args = sys.argv[1:]
    options = json.loads(args[4]) if len(args) > 4 else {}
    asyncio.run(main(args[0], int(args[1]), args[2], args[3], options))
