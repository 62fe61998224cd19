"""Issue 17: a rolling deploy of a web service that embeds zq loses no task.

Three processes of an aiohttp service serve one port (SO_REUSEPORT) and share one zq address;
a steady stream of requests each kicks a task; the processes are restarted one by one with
SIGTERM. Every task whose request got a 2xx runs (the execution log is the oracle).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.integration.conftest import ROOT, free_address, free_port, read_log

PROCESSES = 3
REQUESTS = 3000  # at most; the stream stops once the deploy is done


async def start_service(port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.web_app", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    while b"Running on" not in await asyncio.wait_for(proc.stdout.readline(), 30):
        pass  # aiohttp prints this once it listens (its broker has bound or joined by then)
    return proc


async def stream(url: str, accepted: list[str], done: asyncio.Event) -> int:
    """Kick tasks one request after another until ``done``; returns how many were refused."""
    refused = 0
    async with aiohttp.ClientSession() as http:
        for n in range(REQUESTS):
            if done.is_set():
                break
            try:
                async with http.post(url, params={"token": f"r{n}"}) as response:
                    if 200 <= response.status < 300:
                        accepted.append(f"r{n}")
                    else:
                        refused += 1
            except aiohttp.ClientError:
                refused += 1  # the process that took this connection was stopping
    return refused


async def test_a_rolling_restart_of_the_web_processes_loses_no_accepted_task(
    tmp_path: Path, workers: object
) -> None:
    address, port, log = free_address(), free_port(), tmp_path / "runs.log"
    env = {**os.environ, "ZQ_ADDRESS": address, "ZQ_TEST_LOG": str(log)}
    services = [await start_service(port, env) for _ in range(PROCESSES)]
    worker = workers(address, "-w", "2", capture=True)  # type: ignore[operator]
    await worker.expect("dispatcher(s): ")
    accepted: list[str] = []
    done = asyncio.Event()
    kicking = asyncio.create_task(stream(f"http://127.0.0.1:{port}/kick", accepted, done))
    try:
        for i in range(PROCESSES):  # the deploy: replace each process, one at a time
            services[i].send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(services[i].wait(), 60) == 0
            services[i] = await start_service(port, env)
        done.set()
        refused = await asyncio.wait_for(kicking, 60)
    finally:
        done.set()
        for service in services:
            if service.returncode is None:
                service.send_signal(signal.SIGTERM)
        await asyncio.gather(*(s.wait() for s in services))  # each drains before it exits
    counts, _ = read_log(log)
    lost = [t for t in accepted if counts[t] == 0]
    print(f"FIGURES rolling deploy: {len(accepted)} accepted, {refused} refused, {len(lost)} lost")
    assert len(accepted) > 100
    assert not lost, f"{len(lost)} accepted tasks never ran, e.g. {lost[:5]}"
