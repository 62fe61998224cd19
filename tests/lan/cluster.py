"""The test bed's cluster: a dispatcher host running ``producer.py``, worker hosts running real
`zq worker` processes (``tests/lan/netbed.py`` makes the LAN), and the execution log's reading.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from tests.execution_log import lines
from tests.lan import netbed

ROOT = Path(__file__).resolve().parents[2]
PORT = 5600


def executions(log: Path) -> Counter[int]:
    """How many times each task ran, from the execution log the tasks write."""
    return Counter(i for i, _, _ in runs_of(log))


def runs_of(log: Path) -> list[tuple[int, int, float]]:
    """Every run in the execution log: (task, worker pid, when it started: epoch seconds)."""
    found = []
    for line in lines(log):
        token, pid, at = line.split()
        found.append((int(token.split("/")[1]), int(pid), float(at)))
    return found


def first_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The next line a process prints (it says it is ready, or done); bounded by ``timeout``.

    (A readline alone blocks for as long as the process lives: read in a thread, wait for it.)
    """
    stdout = process.stdout
    assert stdout is not None
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not read or not read[0]:
        raise AssertionError(f"no line from {process.args!r} within {timeout:g}s")
    return read[0].strip()


class Cluster:
    """A dispatcher host and worker hosts on one test-bed LAN."""

    def __init__(self, net: netbed.Lan, log: Path) -> None:
        self.net = net
        self.log = log
        self.dispatcher, *self.workers = net.hosts
        self.env = {"ZQ_LAN_LOG": str(log), "PYTHONPATH": str(ROOT)}

    def producer(
        self,
        *args: str,
        host: netbed.Host | None = None,
        env: dict[str, str] | None = None,
        script: str = "producer.py",
    ) -> subprocess.Popen[str]:
        """``script`` (``tests/lan/``) bound to ``host`` (the dispatcher's), once it is ready."""
        host = host or self.dispatcher
        bind = f"tcp://{host.address}:{PORT}"
        command = [sys.executable, str(ROOT / "tests/lan" / script), bind, *args]
        environment = {**self.env, **(env or {})}
        process = self.net.spawn(
            host, command, environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert first_line(process) == "ready"
        return process

    def start(
        self, tasks: int, slots: int, *options: str, delay_ms: float | None = None
    ) -> subprocess.Popen[str]:
        """The producer (``tasks`` tasks for every worker host) and a worker on each host."""
        workers = str(len(self.workers))
        producer = self.producer("--workers", workers, "--tasks", str(tasks), *options)
        for host in self.workers:
            self.worker(host, "--max-async-tasks", str(slots), delay_ms=delay_ms)
        return producer

    def worker(
        self,
        host: netbed.Host,
        *args: str,
        delay_ms: float | None = None,
        clock: list[str] | None = None,
        connect: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """A `zq worker` on ``host``, through a delay proxy in that host if ``delay_ms``.

        ``clock``: a command that runs it with its clock skewed (``faketime``); ``connect``:
        the address to give it instead of the dispatcher host's ("": none, for ``--discover``
        in ``args``); ``env``: more environment (its CURVE keys).
        """
        target = connect or f"{self.dispatcher.address}:{PORT}"
        if delay_ms is not None:
            jitter = str(delay_ms / 4)
            proxy = [str(ROOT / "tests/lan/delay_proxy.py"), "127.0.0.1:0", target]
            knobs = ["--delay-ms", str(delay_ms), "--jitter-ms", jitter]
            running = self.net.spawn(
                host, [sys.executable, *proxy, *knobs], stdout=subprocess.PIPE, text=True
            )
            target = f"127.0.0.1:{first_line(running).split()[1]}"
        where = ["--connect", f"tcp://{target}"] if connect != "" else []
        options = [*where, "-w", "1", "--log-level", "WARNING", *args]
        self.net.spawn(
            host,
            [
                *(clock or []),
                sys.executable,
                "-m",
                "zq",
                "worker",
                "tests.lan.lan_app:broker",
                *options,
            ],
            {**self.env, **(env or {})},
            cwd=ROOT,
        )


async def finished(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The producer's JSON report, once it finished (bounded)."""
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
    report: dict[str, Any] = json.loads(line)
    return report
