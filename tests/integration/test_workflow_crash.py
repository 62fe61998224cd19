"""A pipeline outlives its dispatcher's SIGKILL mid-map (with a journal); the log is the oracle."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, Worker, free_address, read_log, wait_for_log

N = 200


class Script:
    """``tests.integration.workflow_script`` in a process of its own, read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.workflow_script", *args],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    async def line(self, prefix: str, timeout: float = 60) -> str:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout)
            assert line, f"the script exited before printing {prefix!r}"
            if line.startswith(prefix):
                return line.strip().split(" ", 1)[1]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


async def test_a_killed_dispatcher_s_pipeline_completes_after_a_restart(
    workers: Callable[..., Worker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, journal, address = tmp_path / "log", str(tmp_path / "zq.db"), free_address()
    monkeypatch.setenv("ZQ_WORKFLOW_LOG", str(log))  # the workers inherit it
    app = "tests.integration.workflow_app:broker"
    workers(address, "-w", "1", "--max-async-tasks", "10", app=app)
    first = Script("kick", address, journal, str(N))
    try:
        last = await first.line("kicked")
        # Mid-map: some items done, most not.
        await wait_for_log(log, lambda runs: sum(k.startswith("slow/") for k in runs) >= N // 4)
        os.kill(first.process.pid, signal.SIGKILL)
    finally:
        first.close()
    done_before = sum(k.startswith("slow/") for k in read_log(log)[0])
    second = Script("finish", address, journal, last)
    try:
        recovered = int(await second.line("recovered"))
        value = await second.line("result", timeout=120)
    finally:
        second.close()
    runs = read_log(log)[0]
    print(
        f"FIGURES workflow crash: {done_before} of {N} items done at the kill, {recovered} "
        f"tasks recovered, {sum(n - 1 for n in runs.values())} ran twice"
    )
    assert value == str(sum(i * i for i in range(N)))
    assert all(runs[f"slow/{i}"] >= 1 for i in range(N))  # each ran at least once: none lost
    assert runs["numbers/200"] >= 1 and runs["total/200"] >= 1 and recovered > 0
