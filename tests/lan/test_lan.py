"""zq on a LAN of network namespaces that misbehaves (issue 22); the execution log is the oracle.

Each test builds its own LAN (``tests/lan/netbed.py``): a dispatcher host running
``producer.py`` and worker hosts running real `zq worker` processes, every link through a
delay proxy where the test says so; faults come from the test, on a schedule. Needs root.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.lan import netbed

ROOT = Path(__file__).resolve().parents[2]
PORT = 5600
why_not = netbed.available()
pytestmark = pytest.mark.skipif(why_not is not None, reason=why_not or "")


def executions(log: Path) -> Counter[int]:
    """How many times each task ran, from the execution log the tasks write."""
    runs: Counter[int] = Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            runs[int(line.split()[0].split("/")[1])] += 1
    return runs


def first_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The first line a process prints (it says it is ready); bounded."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    if not line or time.monotonic() > deadline:
        raise AssertionError(f"no ready line from {process.args!r}")
    return line.strip()


class Cluster:
    """A dispatcher host and worker hosts on one test-bed LAN."""

    def __init__(self, net: netbed.Lan, log: Path) -> None:
        self.net = net
        self.log = log
        self.dispatcher, *self.workers = net.hosts
        self.env = {"ZQ_LAN_LOG": str(log), "PYTHONPATH": str(ROOT)}

    def producer(self, *args: str) -> subprocess.Popen[str]:
        bind = f"tcp://{self.dispatcher.address}:{PORT}"
        command = [sys.executable, str(ROOT / "tests/lan/producer.py"), bind, *args]
        process = self.net.spawn(
            self.dispatcher, command, self.env, stdout=subprocess.PIPE, text=True
        )
        assert first_line(process) == "ready"
        return process

    def worker(self, host: netbed.Host, *args: str, delay_ms: float | None = None) -> None:
        """A `zq worker` on ``host``, through a delay proxy in that host if ``delay_ms``."""
        target = f"{self.dispatcher.address}:{PORT}"
        if delay_ms is not None:
            jitter = str(delay_ms / 4)
            proxy = [str(ROOT / "tests/lan/delay_proxy.py"), "127.0.0.1:0", target]
            knobs = ["--delay-ms", str(delay_ms), "--jitter-ms", jitter]
            running = self.net.spawn(
                host, [sys.executable, *proxy, *knobs], stdout=subprocess.PIPE, text=True
            )
            target = f"127.0.0.1:{first_line(running).split()[1]}"
        options = ["--connect", f"tcp://{target}", "-w", "1", "--log-level", "WARNING", *args]
        self.net.spawn(
            host,
            [sys.executable, "-m", "zq", "worker", "tests.lan.lan_app:broker", *options],
            self.env,
            cwd=ROOT,
        )


async def finished(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The producer's JSON report, once it finished (bounded)."""
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
    report: dict[str, Any] = json.loads(line)
    return report


async def test_delay_jitter_and_black_holes_lose_nothing_and_count_every_duplicate(
    tmp_path: Path,
) -> None:
    log = tmp_path / "executions.log"
    tasks, slots, delay_ms = 20_000, 20, 20.0
    with netbed.lan(4, tag="a") as net:
        cluster = Cluster(net, log)
        producer = cluster.producer(
            "--workers", "3", "--tasks", str(tasks), "--in-flight", str(6 * slots)
        )
        for host in cluster.workers:
            cluster.worker(host, "--max-async-tasks", str(slots), delay_ms=delay_ms)
        victim = cluster.workers[0]
        windows = 0

        async def black_holes() -> None:  # 2 s of silence on one link, every 10 s
            nonlocal windows
            await asyncio.sleep(2)
            while True:
                net.black_hole(cluster.dispatcher, victim)
                windows += 1
                await asyncio.sleep(2)
                net.black_hole(cluster.dispatcher, victim, on=False)
                await asyncio.sleep(8)

        faults = asyncio.ensure_future(black_holes())
        try:
            report = await finished(producer, 120)
        finally:
            faults.cancel()
    runs = executions(log)
    lost = [i for i in range(tasks) if runs[i] == 0]
    twice = sum(count - 1 for count in runs.values())
    stats = report["stats"]
    bound = 3 * slots / (2 * delay_ms / 1000)  # credit over the round trip, tasks/s
    print(
        f"FIGURES lan: {tasks} tasks, 3 worker hosts x {slots} slots, {delay_ms:g}±{delay_ms / 4:g}"
        f" ms each way, {windows} black-hole window(s) of 2 s: {report['seconds']:.1f} s, "
        f"{tasks / report['seconds']:,.0f} tasks/s (bound {bound:,.0f}), p50 "
        f"{report['p50_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms; ran twice {twice}, "
        f"duplicates counted {stats['duplicates']}, requeued {stats['requeued']}, "
        f"executors lost {stats['executors_lost']}"
    )
    assert lost == []
    assert windows >= 1
    assert stats["duplicates"] == twice
