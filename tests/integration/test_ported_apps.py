"""Porting a real taskiq app is an import change: its plugins run unchanged against zq.

The app (``ported_app.py``) uses taskiq-fastapi, taskiq-redis (result backend and schedule
source, against a real redis-server this test starts), dishka, pydantic models and paths. This
process is the web service (FastAPI called through httpx's ASGI transport); real `zq worker`
and `zq scheduler` processes run the tasks and the schedule; the tasks' own execution log says
what ran.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import pathlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Worker, free_address, read_log, wait_for_log

pytest.importorskip("taskiq_fastapi", reason="the test extra installs taskiq-fastapi")
pytest.importorskip("taskiq_redis", reason="the test extra installs taskiq-redis")
pytest.importorskip("dishka", reason="the test extra installs dishka")
httpx = pytest.importorskip("httpx", reason="the test extra installs httpx")

APP = "tests.integration.ported_app"


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs it with apt-get)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None

    def ready() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if "Ready to accept connections" in line:
                return
        raise AssertionError("redis-server exited before it was ready")

    await asyncio.wait_for(asyncio.to_thread(ready), 20)
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


async def test_a_ported_taskiq_app_runs_with_its_plugins(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = free_address()
    log = tmp_path / "exec.log"
    env = {"REDIS_URL": redis_url, "ZQ_ADDRESS": address, "EXEC_LOG": str(log)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = importlib.reload(importlib.import_module(APP))  # the broker line reads the env
    started: list[Worker] = []

    def start(command: str, target: str, *args: str) -> Worker:
        worker = Worker(None, *args, app=target, env=env, command=command, capture=True)
        started.append(worker)
        return worker

    await app.broker.startup()  # the web service's lifespan: binds the address
    try:
        worker = start("worker", f"{APP}:broker", "--connect", address, "-w", "1")
        await worker.expect("registered")
        await check_fastapi_dependency_and_payload_types(app)
        await check_dishka_and_response_model(app)
        await check_redis_schedule_source(app, start, log)
        counts, _ = read_log(log)
        assert counts["greet-ada"] == 1 and counts["teardown"] == 1
        assert counts["add-1-2-hi-x"] == 1 and counts["scheduled-5"] == 1
    finally:
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in started))
        await app.broker.shutdown()
    for w in started:
        assert "Traceback" not in w.output, w.output


async def check_fastapi_dependency_and_payload_types(app: object) -> None:
    dto = app.InputObjectDTO(name="ada", size=3)  # type: ignore[attr-defined]
    task = await app.greet.kiq(dto, pathlib.Path("/srv"))  # type: ignore[attr-defined]
    result = await task.wait_result(check_interval=0.05, timeout=30)
    assert not result.is_err, result.error
    # taskiq-fastapi's WORKER_STARTUP handler gave the task a Request of the app
    assert result.return_value == app.OutputDTO(  # type: ignore[attr-defined]
        greeting="hello ada (3)", where=pathlib.Path("/srv/ada")
    )
    # the result went through taskiq-redis's backend
    stored = await app.broker.result_backend.get_result(task.task_id)  # type: ignore[attr-defined]
    assert stored.return_value["greeting"] == "hello ada (3)"


async def check_dishka_and_response_model(app: object) -> None:
    transport = httpx.ASGITransport(app=app.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/add", params={"a": 1, "b": 2})
        schema = (await client.get("/openapi.json")).json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_err"] is False and body["return_value"] == 3 and body["error"] is None
    returned = schema["components"]["schemas"]
    assert any(
        s.get("properties", {}).get("return_value") == {"title": "Return Value", "type": "integer"}
        for s in returned.values()
    )


async def check_redis_schedule_source(app: object, start: Callable[..., Worker], log: Path) -> None:
    source = app.schedule_source  # type: ignore[attr-defined]
    await source.startup()
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    created = await app.scheduled.schedule_by_time(source, soon, 5)  # type: ignore[attr-defined]
    listed = [s.schedule_id for s in await source.get_schedules()]
    assert created.schedule_id in listed
    state = log.parent / "schedule-state.db"
    scheduler = start("scheduler", f"{APP}:scheduler", "--state-file", str(state))
    await wait_for_log(log, lambda counts: counts["scheduled-5"] > 0, timeout=30)
    await source.shutdown()
    assert scheduler.process.poll() is None
