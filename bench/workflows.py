"""What a pipeline costs: a 3-step pipeline of no-op tasks next to 3 sequential round trips.

    .venv/bin/python bench/workflows.py [--chains 300] [--runs 5] [--workers 2]

One producer (it binds the dispatcher), real `zq worker` processes, loopback, uvloop. Each run
times ``--chains`` chains one after another, both ways, interleaved (A B A B ...): three
``await (await step.kiq(x)).wait_result()`` in a row, where each call waits for the one before;
and ``Pipeline(broker, step).call_next(step).call_next(step)`` kicked and waited for once,
where the dispatcher moves each step on. Prints the median time per chain of each (ms) over
the runs, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import served  # noqa: E402
from bench.tasks import step  # noqa: E402
from zq import ZeroMQBroker  # noqa: E402
from zq.pipelines import Pipeline  # noqa: E402


async def sequential(chains: int) -> float:
    """Milliseconds per chain of three round trips, each waiting for the one before."""
    start = time.perf_counter()
    for _ in range(chains):
        value = 0
        for _ in range(3):
            value = (await (await step.kiq(value)).wait_result(timeout=10)).return_value
        assert value == 3
    return (time.perf_counter() - start) / chains * 1000


async def pipelined(producer: ZeroMQBroker, chains: int) -> float:
    """Milliseconds per 3-step pipeline, kicked and waited for once."""
    pipe = Pipeline(producer, step).call_next(step).call_next(step)
    start = time.perf_counter()
    for _ in range(chains):
        assert (await (await pipe.kiq(0)).wait_result(timeout=10)).return_value == 3
    return (time.perf_counter() - start) / chains * 1000


async def main(args: argparse.Namespace) -> None:
    async with served(args.workers, step) as producer:
        await sequential(50)  # warm-up, both ways
        await pipelined(producer, 50)
        seq, pipe = [], []
        for _ in range(args.runs):
            seq.append(await sequential(args.chains))
            pipe.append(await pipelined(producer, args.chains))
    print(
        f"# zq workflows: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {args.workers} worker process(es), {args.chains} chains "
        f"x {args.runs} runs, interleaved"
    )
    s, p = statistics.median(seq), statistics.median(pipe)
    print("| chain of 3 no-op tasks | ms per chain (median) | runs |")
    print("|---|---|---|")
    print(f"| 3 sequential kiq + wait_result | {s:.3f} | {', '.join(f'{x:.3f}' for x in seq)} |")
    print(f"| Pipeline (3 steps) | {p:.3f} | {', '.join(f'{x:.3f}' for x in pipe)} |")
    print(f"# pipeline / sequential: {p / s:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    uvloop.run(main(parser.parse_args()))
