"""Seeing what runs: ``zq status``, task history with log lines, ``zq task show``, ``zq tasks``.

Real `zq worker` processes; the commands run as a user runs them (subprocesses) and what
they print is compared with ``broker.stats()`` and the tasks' own log.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT, Worker, free_address
from zq import AsyncTaskiqTask, ZeroMQBroker
from zq.actors.observer import Observer
from zq.kicker import AsyncKicker

APP = "tests.integration.observe_app"
CLEAR = "\x1b[H\x1b[2J"


async def kiq(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> AsyncTaskiqTask[Any]:
    return await AsyncKicker(f"{APP}:{name}", broker, labels).kiq(*args)


async def zq(*args: str) -> tuple[int, str, str]:
    """Run ``zq ARGS`` as a user would; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_zq_status_shows_what_the_dispatcher_holds(
    workers: Callable[..., Worker],
) -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    async with broker:
        app = f"{APP}:broker"
        for _ in range(2):  # two hosts serving only the default queue, 2 slots each
            workers(broker.endpoint, "-w", "1", "--queues", "default", "--max-async-tasks", "2",
                    app=app)  # fmt: skip
        await broker.wait_workers(2)
        for _ in range(2):
            await kiq(broker, "refuse")
        await broker.wait_until(lambda s: s["stats"].dead_lettered == 2)
        held = [await kiq(broker, "hold", 600) for _ in range(7)]  # 4 slots: 3 wait
        # Two queues nobody serves: their tasks wait.
        held += [await kiq(broker, "hold", 600, queue="reports", priority=5) for _ in range(2)]
        held += [await kiq(broker, "noop", queue="emails") for _ in range(3)]
        held.append(await kiq(broker, "noop", queue="emails", delay=600))
        stats = await broker.wait_until(
            lambda s: s["pending"] == 8 and s["leased"] == 4 and s["delayed"] == 1
        )

        code, out, err = await zq("status", "--connect", broker.endpoint, "--json")
        assert code == 0, err
        status = json.loads(out)
        assert status["totals"] == {
            "pending": stats["pending"],
            "delayed": stats["delayed"],
            "running": stats["leased"],
            "held": 13,
            "dead_letters": len(await broker.dead_letters()),
        }
        assert status["queues"] == {
            "default": {"pending": {"0": 3}, "delayed": 0, "running": 4},
            "reports": {"pending": {"5": 2}, "delayed": 0, "running": 0},
            "emails": {"pending": {"0": 3}, "delayed": 1, "running": 0},
        }
        by_pid = {w["pid"]: w for w in status["workers"]}
        assert len(by_pid) == len(stats["executors"]) == 2
        for peer, info in stats["executors"].items():
            worker = by_pid[info.pid]
            assert (worker["busy"], worker["slots"]) == (stats["leases"][peer], 2)
            assert worker["queues"] == info.queues and worker["host"] == info.hostname
        assert status["dispatcher"]["address"] == broker.endpoint
        assert status["counters"]["dead_lettered"] == stats["stats"].dead_lettered == 2

        code, out, err = await zq("status", "--connect", broker.endpoint)
        assert code == 0, err
        print(out)
        assert "totals: 8 pending, 1 delayed, 4 running, 2 dead letters" in out
        assert out.count("1/2") + out.count("2/2") == 2 or "2/2" in out  # busy/slots column
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:2] == "  "}
        assert rows["emails"] == ["3", "0:", "3", "1", "0"]
        assert rows["reports"] == ["2", "5:", "2", "0", "0"]

        code, out, _ = await zq(
            "status", "--connect", broker.endpoint, "--watch", "--interval", "0.2", "--count", "3"
        )
        assert code == 0 and out.count(CLEAR) == 3  # drawn three times, in place
        await broker.cancel_many([h.task_id for h in held])  # else the stop waits for them

    nobody = free_address()
    code, out, err = await zq("status", "--connect", nobody, "--timeout", "1")
    assert code == 2 and not out
    assert f"no zq dispatcher answered at {nobody}" in err


async def test_a_task_retried_twice_has_three_attempts_and_its_log_also_after_a_restart(
    workers: Callable[..., Worker], tmp_path: Path
) -> None:
    journal = str(tmp_path / "journal.db")
    log_path = str(tmp_path / "executions.log")
    async with ZeroMQBroker("tcp://127.0.0.1:*", journal=journal) as broker:
        worker = workers(broker.endpoint, "-w", "1", app=f"{APP}:broker")
        task = await kiq(broker, "flaky", log_path, 2, retry_on_error=True, max_retries=5)
        assert (await task.wait_result(timeout=30)).return_value == "ok after 3 runs"
        info = await broker.task_info(task.task_id)
        assert info is not None
        check_history(info, worker)

        code, out, err = await zq("task", "show", task.task_id, "--connect", broker.endpoint)
        assert code == 0, err
        print(out)
        assert out.count("attempt ") == 3 and "ValueError: flaky run 2 fails" in out
        assert "flaky run 3 succeeds" in out and "result: 'ok after 3 runs'" in out
        code, out, err = await zq("task", "show", "no-such-id", "--connect", broker.endpoint)
        assert code == 1 and "no task no-such-id" in err
        code, out, err = await zq(
            "tasks", "--connect", broker.endpoint, "--state", "succeeded",
            "--name", f"{APP}:flaky", "--since", "1h", "--json",
        )  # fmt: skip
        assert code == 0, err
        assert [t["id"] for t in json.loads(out)] == [task.task_id]

    # A new dispatcher on the same journal: the history is still there.
    async with ZeroMQBroker("tcp://127.0.0.1:*", journal=journal) as again:
        info = await again.task_info(task.task_id)
        assert info is not None
        check_history(info, worker)


def check_history(info: dict[str, Any], worker: Worker) -> None:
    """Three attempts on the worker's process: two failed with their errors, then success."""
    assert info["state"] == "succeeded" and info["name"] == f"{APP}:flaky"
    attempts = info["attempts"]
    assert len(attempts) == 3
    for number, attempt in enumerate(attempts, 1):
        assert attempt["worker"].startswith("pid ") and socket.gethostname() in attempt["worker"]
        assert any(f"flaky run {number} begins" in line for line in attempt["log"])
        assert attempt["assigned_at"] <= attempt["finished_at"]
    for number, attempt in enumerate(attempts[:2], 1):
        assert attempt["error"]["type"] == "ValueError"
        assert attempt["error"]["message"] == f"flaky run {number} fails"
        assert "raise ValueError" in attempt["error"]["traceback"]
    assert attempts[2]["error"] is None
    assert any("flaky run 3 succeeds" in line for line in attempts[2]["log"])
    assert info["kicked_at"] <= attempts[0]["assigned_at"]


async def test_an_observer_whose_dispatcher_is_gone_gets_a_timeout_not_a_hang() -> None:
    """`zq status --watch` outlived its dispatcher: its next send waited forever, Ctrl-C too."""
    broker = ZeroMQBroker(free_address())
    await broker.startup()
    async with Observer(broker.endpoint, timeout_s=0.5) as observer:
        assert "workers" in await observer.ask("status")
        await broker.shutdown()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError, match=r"did not answer within 0\.5s"):
            await asyncio.wait_for(observer.ask("status"), 5)  # (the bound of the test itself)
        assert loop.time() - started < 2
