"""The aiohttp example, for real: the service and a `zq worker` as processes, HTTP on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import ROOT, Worker, free_address


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def service() -> AsyncIterator[str]:
    address, port = free_address(), free_port()
    env = {**os.environ, "ZQ_ADDRESS": address}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.webservice", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    while b"Running on" not in await asyncio.wait_for(proc.stdout.readline(), 20):
        pass  # aiohttp prints this line once it listens (and the dispatcher is bound)
    worker = Worker(address, "-w", "1", app="examples.webservice:broker")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        worker.stop()
        proc.terminate()
        await proc.wait()


async def test_a_request_kicks_a_task_and_answers_with_its_result(service: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{service}/add", params={"a": "2", "b": "40"}) as response,
    ):
        assert response.status == 200
        assert await response.json() == {"result": 42}


async def test_another_request_reports_progress_while_the_task_runs(
    service: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    async with aiohttp.ClientSession() as http:
        params = {"rows": "3", "gate": str(gate)}
        async with http.post(f"{service}/reports", params=params) as response:
            assert response.status == 202
            task_id = (await response.json())["task_id"]
        async with http.get(f"{service}/reports/{task_id}/progress") as response:
            assert await response.json() == {"state": "STARTED", "row": 1}  # held at row 1
        await asyncio.to_thread(gate.write_text, "go")
        async with http.get(f"{service}/reports/{task_id}") as response:
            assert await response.json() == {"rows": 3, "status": "done"}
