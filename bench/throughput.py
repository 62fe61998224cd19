"""Throughput and latency of zq end to end: one producer, real `zq worker` processes, loopback.

    .venv/bin/python bench/throughput.py [--tasks 20000] [--runs 5] [--workers 1 2] [--journal]
        [--curve]

For each worker count: a warm-up, then ``--runs`` timed runs of ``--tasks`` no-op tasks kicked
and their results awaited (median and spread reported, and the producer's CPU time per task,
which a busy shared machine disturbs less than the rate); then ``--latency`` sequential single
round trips (kiq + wait_result) for p50/p99; then peak RSS of the producer and the workers.
Both producer and workers run on uvloop. Before zq's rows for each worker count, the raw
transport's (``bench/raw.py``: pyzmq and msgspec alone, the same processes and loop): zq's
rate and p50 are also printed as ratios of it, so that a figure means something on any machine
(``--no-raw`` skips it).

``--journal`` adds, for each worker count, a row with the SQLite journal on (a fresh file in a
temporary directory) next to the in-memory row. With a journal ``kiq()`` returns only once the
task is on disk, so a loop of sequential ``await kiq()`` commits once per task; the timed runs
then kick in groups of ``--concurrency`` concurrent ``kiq()`` calls (both rows alike), which is
how a service under load kicks and what group commit is for.

``--curve`` adds, for each worker count, a row with CURVE on (fresh keys: the producer's
dispatcher allows the workers' key) next to the plain row, kicked the same way.

``--standby`` adds a row with a standby (`zq dispatcher --standby`, joined to the producer's
dispatcher): every task is copied to it before its ``kiq()`` returns, so, as with the journal,
every row then kicks in concurrent groups. ``--via-dispatcher`` adds
a row where the producer joins a standalone `zq dispatcher` (no journal) that the workers
connect to: one more process, and a network hop each way, between producer and workers.
``--labels`` adds a row where every task carries every task-control label (``priority``,
``unique_key`` (one per task) with ``unique_for``, ``concurrency_key`` / ``max_concurrency``,
``rate_limit`` / ``rate_limit_key``), with limits high enough never to hold a task: what the
bookkeeping costs. ``--observer`` adds a row with an observer connected all along: `zq
status --watch --interval 0.5` in another process, asking the dispatcher for its whole status
twice a second (a dashboard's live page costs the dispatcher one status a second).
``--joined N`` adds a row where N producers in processes of their own (``bench/joined.py``)
join the benchmark's dispatcher and kick ``--tasks`` between them; the CPU column is then the
dispatcher's process alone. ``--payload BYTES`` gives every task an argument of that size.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import raw  # noqa: E402
from bench.tasks import broker, noop, sink  # noqa: E402
from zq import ZeroMQBroker, gather  # noqa: E402
from zq.transport.curve import generate  # noqa: E402


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# Every task-control label, with limits that never hold a task (the ``--labels`` row).
LABELS = {
    "priority": 1,
    "unique_for": 60,
    "concurrency_key": "bench",
    "max_concurrency": 1_000_000,
    "rate_limit": "1000000/s",
    "rate_limit_key": "bench",
}
_keys = itertools.count()

Kick = Callable[[], Awaitable[Any]]


def kicker(labelled: bool, payload: int = 0) -> Kick:
    """One ``kiq()`` of the no-op task, with every label set (a new ``unique_key`` each), or
    of ``sink`` with a ``payload``-byte argument."""
    if payload:
        data = os.urandom(payload)
        return lambda: sink.kiq(data)
    if not labelled:
        return noop.kiq
    return lambda: noop.kicker().with_labels(**LABELS, unique_key=f"k{next(_keys)}").kiq()


async def kick_all(tasks: int, concurrency: int, kick: Kick) -> list[object]:
    """``tasks`` kiq() calls: one after another, or in concurrent groups."""
    if concurrency <= 1:
        return [await kick() for _ in range(tasks)]
    kicked: list[object] = []
    for start in range(0, tasks, concurrency):
        group = min(concurrency, tasks - start)
        kicked.extend(await asyncio.gather(*(kick() for _ in range(group))))
    return kicked


def go_and_wait(joined: list[subprocess.Popen[str]]) -> None:
    """One run of the joined producers: all start, all end (their ``done`` lines)."""
    for one in joined:
        assert one.stdin is not None
        one.stdin.write("go\n")
        one.stdin.flush()
    for one in joined:
        assert one.stdout is not None
        line = one.stdout.readline()
        assert line.startswith("done"), line


def curve_keys(tmp: str) -> tuple[dict[str, str], list[str]]:
    """Fresh keys: the producer's CURVE arguments, and the workers' options."""
    _, dispatcher_secret = generate(tmp, "dispatcher")
    _, worker_secret = generate(tmp, "worker")
    os.mkdir(os.path.join(tmp, "workers"))
    os.rename(os.path.join(tmp, "worker.key"), os.path.join(tmp, "workers", "worker.key"))
    producer = {"curve_key": str(dispatcher_secret), "curve_workers": os.path.join(tmp, "workers")}
    server_key = os.path.join(tmp, "dispatcher.key")
    return producer, ["--curve-key", str(worker_secret), "--curve-server-key", server_key]


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def start_dispatcher(address: str, *options: str) -> subprocess.Popen[str]:
    """`zq dispatcher` (no journal) on ``address``; returns once it is ready (or standing by)."""
    cmd = [sys.executable, "-m", "zq", "dispatcher", "--address", address, "--no-journal"]
    proc = subprocess.Popen([*cmd, *options], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "zq dispatcher ready" in line or "zq dispatcher standing by" in line:
            return proc
    raise RuntimeError("zq dispatcher did not start")


async def one_config(
    workers: int,
    tasks: int,
    runs: int,
    latency_n: int,
    journal: str | None,
    concurrency: int,
    curve: tuple[dict[str, str], list[str]] | None = None,
    variant: str = "",
    payload: int = 0,
    joiners: int = 0,
) -> dict[str, object]:
    helper = None
    kick = kicker(variant == "labels", payload)
    address = "tcp://127.0.0.1:*"
    if variant == "via zq dispatcher":
        address = free_address()
        helper = await asyncio.to_thread(start_dispatcher, address)
    producer = ZeroMQBroker(address, journal=journal, **(curve[0] if curve else {}))
    producer.available_tasks = broker.available_tasks
    producer.add_middlewares(*broker.middlewares)
    await producer.startup()
    noop.broker = sink.broker = producer
    if variant == "standby":
        # (in a thread: this loop's dispatcher must answer its join meanwhile)
        helper = await asyncio.to_thread(start_dispatcher, producer.endpoint, "--standby")
        await asyncio.wait_for(producer.wait_until(lambda s: s["standby"] is not None), 30)
    cmd = [
        sys.executable,
        "-m",
        "zq",
        "worker",
        "bench.tasks:broker",
        "-w",
        str(workers),
        "--connect",
        producer.endpoint if helper is None or variant == "standby" else address,
        "--log-level",
        "WARNING",
        *(curve[1] if curve else []),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    if variant == "observer":
        watch = ["status", "--connect", producer.endpoint, "--watch", "--interval", "0.5"]
        helper = subprocess.Popen(
            [sys.executable, "-m", "zq", *watch], cwd=ROOT, stdout=subprocess.DEVNULL
        )
    joined = []  # --joined: producers in processes of their own, kicking into this dispatcher
    if variant.endswith("joined producers"):
        each = [producer.endpoint, str(tasks // joiners), str(runs)]
        joined = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "bench/joined.py"), *each],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(joiners)
        ]
        for one in joined:  # (their joins need this loop: read in threads)
            assert (await asyncio.to_thread(one.stdout.readline)).strip() == "ready"  # type: ignore[union-attr]
    try:
        if producer.dispatcher is not None:
            await asyncio.wait_for(producer.wait_workers(workers), 30)
        warm_up = min(2000, tasks)  # (2,000 tasks of 1 MiB would be 2 GB held at once)
        await gather(*[await kick() for _ in range(warm_up)])  # warm-up (workers joined)
        rates = []
        cpu = []  # the producer's CPU time per task: less noisy than rates on a shared machine
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            if joined:
                await asyncio.to_thread(go_and_wait, joined)
            else:
                await gather(*await kick_all(tasks, concurrency, kick), timeout=120)
            rates.append(tasks / (time.perf_counter() - start))
            cpu.append((time.process_time() - start_cpu) / tasks * 1e6)
        lat = []
        for _ in range(latency_n):
            start = time.perf_counter()
            await (await kick()).wait_result(timeout=10)
            lat.append((time.perf_counter() - start) * 1000)
        lat.sort()
        stats = await producer.stats()
        pids = [info.pid for info in stats.get("executors", {}).values()]
        worker_rss = [peak_rss_mb(pid) for pid in pids]
    finally:
        for one in joined:  # they leave after their runs: before this dispatcher stops
            await asyncio.to_thread(one.communicate, None, 30)
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 30)  # the dispatcher answers its Bye meanwhile
        await producer.shutdown()
        if helper is not None:
            helper.send_signal(signal.SIGINT)
            await asyncio.to_thread(helper.communicate, None, 30)
    return {
        "workers": workers,
        "median": statistics.median(rates),
        "cpu_us": statistics.median(cpu),
        "min": min(rates),
        "max": max(rates),
        "p50": lat[len(lat) // 2],
        "p99": lat[int(len(lat) * 0.99)],
        "producer_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss": worker_rss,
    }


async def main(args: argparse.Namespace) -> None:
    print(
        f"# zq throughput: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}"
    )
    what = f"tasks with a {args.payload:,}-byte argument" if args.payload else "no-op tasks"
    print(f"# {args.tasks} {what} x {args.runs} runs; {args.latency} sequential round trips")
    print(
        "| worker processes | tasks/s (median) | min-max | producer CPU µs/task | p50 ms | "
        "p99 ms | producer peak RSS MB | worker peak RSS MB | tasks/s ÷ raw | p50 ÷ raw |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    concurrency = args.concurrency if args.journal or args.standby else 1
    variants = [""] + (["journal"] if args.journal else []) + (["CURVE"] if args.curve else [])
    variants += (["standby"] if args.standby else []) + (
        ["via zq dispatcher"] if args.via_dispatcher else []
    )
    variants += ["labels"] if args.labels else []
    variants += ["observer"] if args.observer else []
    variants += [f"{args.joined} joined producers"] if args.joined else []
    for workers in args.workers:
        base = None
        if not args.no_raw:  # the transport's own limit, in this run (bench/raw.py)
            base = await raw.measure(
                workers, args.tasks, args.runs, args.latency, payload=args.payload
            )
            print(
                f"| {workers} raw transport | {base['rate']:,.0f} | | | {base['p50_ms']:.3f} | "
                f"{base['p99_ms']:.3f} | | | 1 | 1 |",
                flush=True,
            )
        for variant in variants:
            with tempfile.TemporaryDirectory() as tmp:
                journal = os.path.join(tmp, "zq.db") if variant == "journal" else None
                curve = curve_keys(tmp) if variant == "CURVE" else None
                r = await one_config(
                    workers,
                    args.tasks,
                    args.runs,
                    args.latency,
                    journal,
                    concurrency,
                    curve,
                    variant,
                    args.payload,
                    args.joined,
                )
            wr = ", ".join(f"{x:.0f}" for x in r["worker_rss"] if x)  # type: ignore[attr-defined]
            label = f"{workers}{f' + {variant}' if variant else ''}"
            ratios = "| |"
            if base is not None:
                rate, p50 = float(r["median"]), float(r["p50"])  # type: ignore[arg-type]
                ratios = f"{rate / base['rate']:.2f} | {p50 / base['p50_ms']:.2f} |"
            print(
                f"| {label} | {r['median']:,.0f} | {r['min']:,.0f}-{r['max']:,.0f} | "
                f"{r['cpu_us']:.1f} | {r['p50']:.3f} | {r['p99']:.3f} | "
                f"{r['producer_rss']:.0f} | {wr} | {ratios}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--journal", action="store_true", help="also run with the journal on")
    parser.add_argument("--curve", action="store_true", help="also run with CURVE on")
    parser.add_argument("--concurrency", type=int, default=1000, help="kiq()s at once (--journal)")
    parser.add_argument("--standby", action="store_true", help="also run with a standby")
    parser.add_argument(
        "--via-dispatcher", action="store_true", help="also run through a `zq dispatcher`"
    )
    parser.add_argument(
        "--labels", action="store_true", help="also run with every task-control label set"
    )
    parser.add_argument(
        "--observer", action="store_true", help="also run with `zq status --watch` connected"
    )
    parser.add_argument(
        "--no-raw", action="store_true", help="skip the raw-transport baseline (bench/raw.py)"
    )
    parser.add_argument(
        "--payload", type=int, default=0, metavar="BYTES", help="each task's argument size"
    )
    parser.add_argument(
        "--joined",
        type=int,
        default=0,
        metavar="N",
        help="also run with N joined producers (bench/joined.py) kicking --tasks between them",
    )
    uvloop.run(main(parser.parse_args()))
