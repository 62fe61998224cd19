"""zq as a broker for taskiq itself: unchanged taskiq code, run by taskiq's own `taskiq worker`.

Two `taskiq worker` processes share 1,000 tasks kicked from this process (which embeds the
dispatcher) once both have joined; the tasks' execution log shows each ran exactly once, and
both workers took some.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, free_address, read_log, wait_for_log

pytest.importorskip("taskiq", reason="the test extra installs taskiq")

TASKS = 1_000
APP = "tests.integration.taskiq_app"


def taskiq_worker(env: dict[str, str], output: Path) -> subprocess.Popen[str]:
    """taskiq's own `taskiq worker`; its log goes to ``output`` (a pipe nobody reads fills up)."""
    command = [sys.executable, "-m", "taskiq", "worker", f"{APP}:broker", "--workers", "1"]
    with output.open("w") as log:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stderr=log)


async def test_two_taskiq_workers_run_each_task_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "exec.log"
    env = {"ZQ_ADDRESS": free_address(), "EXEC_LOG": str(log)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = importlib.reload(importlib.import_module(APP))
    await app.broker.startup()  # binds the dispatcher: no broker server anywhere
    outputs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    workers = [taskiq_worker(env, output) for output in outputs]
    try:
        # Both joined before the first kick: a worker that starts slower (a loaded machine)
        # would otherwise find the other one done with all 1,000 tasks.
        await asyncio.wait_for(app.broker.engine.wait_workers(2), 60)
        for i in range(TASKS):
            await app.record.kiq(f"t{i}")
        await app.fan_out.kiq(10)  # kicks from inside a task, in a worker
        await wait_for_log(log, lambda counts: counts.total() >= TASKS + 10)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        # In a thread: the dispatcher, in this loop, answers the stopping workers' Byes.
        codes = [await asyncio.to_thread(worker.wait, 60) for worker in workers]
        await app.broker.shutdown()
    logs = [output.read_text() for output in outputs]
    counts, pids = read_log(log)
    assert {f"t{i}" for i in range(TASKS)} | {f"inner-{i}" for i in range(10)} == set(counts)
    assert [token for token, n in counts.items() if n != 1] == []
    assert len(pids) == 2, logs  # both workers took tasks
    assert codes == [0, 0], logs
    assert not any("Traceback" in text for text in logs), logs
