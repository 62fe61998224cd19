"""A broker of one's own, as taskiq documents it, kicked through zq's API and run by `zq worker`."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from tests.integration.conftest import Worker, read_log, wait_for_log
from zq.core.messages import TaskMsg

APP = "tests.integration.custom_broker_app"
TASKS = 200


async def test_zq_worker_runs_a_broker_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"QUEUE_DIR": str(tmp_path / "queue"), "EXEC_LOG": str(tmp_path / "exec.log")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = importlib.reload(importlib.import_module(APP))
    await app.broker.startup()
    for i in range(TASKS):
        await app.record.kiq(f"t{i}")
    workers = [Worker(None, "-w", "1", app=f"{APP}:broker", env=env) for _ in range(2)]
    try:
        await wait_for_log(tmp_path / "exec.log", lambda counts: counts.total() >= TASKS)
    finally:
        codes = await asyncio.gather(*(asyncio.to_thread(w.stop) for w in workers))
        await app.broker.shutdown()
    counts, _pids = read_log(tmp_path / "exec.log")
    assert set(counts) == {f"t{i}" for i in range(TASKS)}
    assert [t for t, n in counts.items() if n != 1] == []
    assert codes == [0, 0]
    assert list((tmp_path / "queue").iterdir()) == []  # every message acknowledged


def test_a_kick_reaches_the_brokers_own_kick_as_a_formatted_message() -> None:
    app = importlib.import_module(APP)
    broker = app.DirectoryBroker()
    assert broker.listens() and type(broker.result_backend).__name__ == "DummyResultBackend"
    task = TaskMsg("id1", "m:f", broker.serializer.dumpb([[1], {"b": 2}]), {"x": 1}, "default")
    decoded = broker.formatter.loads(broker.broker_message(task).message)
    assert (decoded.task_id, decoded.task_name) == ("id1", "m:f")
    assert (decoded.args, decoded.kwargs, decoded.labels) == ([1], {"b": 2}, {"x": 1})


async def test_run_receiver_task_listens_to_a_broker_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zq.api import run_receiver_task

    log = tmp_path / "exec.log"
    monkeypatch.setenv("QUEUE_DIR", str(tmp_path / "queue"))
    monkeypatch.setenv("EXEC_LOG", str(log))
    app = importlib.reload(importlib.import_module(APP))
    await app.broker.startup()
    worker = asyncio.ensure_future(run_receiver_task(app.broker))
    for i in range(20):
        await app.record.kiq(f"t{i}")
    counts = await wait_for_log(log, lambda counts: counts.total() >= 20)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    await app.broker.shutdown()
    assert counts == {f"t{i}": 1 for i in range(20)}
