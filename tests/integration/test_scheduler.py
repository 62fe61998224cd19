"""`zq scheduler` processes with real workers: one execution per slot, runtime changes by CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.execution_log import lines
from tests.integration.conftest import ROOT, Worker
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker

Start = Callable[..., Worker]

APP = "tests.integration.sched_app"


def log_lines(path: Path) -> list[str]:
    return [line.split()[0] for line in lines(path)]


def count(path: Path, prefix: str) -> int:
    return sum(line.startswith(prefix) for line in log_lines(path))


def start_scheduler(spec: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "zq", "scheduler", f"{APP}:{spec}", "--log-level", "INFO"]
    return subprocess.Popen(
        [*cmd, *args], cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True
    )


async def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0, err
    return err


def schedules_cli(db: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "zq", "schedules", "--db", str(db), *args]
    done = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_two_schedulers_fire_each_slot_once(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    env = {"ZQ_TEST_ADDRESS": producer.endpoint, "ZQ_TEST_LOG": str(log)}
    workers(producer.endpoint, "-w", "2", app=f"{APP}:broker", env=env)
    await producer.wait_workers(2)
    pair = [
        start_scheduler("labels", env, "--state-file", str(tmp_path / f"state{i}.db"))
        for i in range(2)
    ]
    # Six seconds of one-second slots, counted by the dispatcher as they complete.
    await asyncio.wait_for(producer.wait_until(lambda s: s["stats"].completed >= 6), 30)
    kicked = [(await stop(proc)).count("kicked tick as every-second@") for proc in pair]
    await asyncio.wait_for(producer.wait_until(lambda s: not s["pending"] and not s["leased"]), 30)
    runs = Counter(log_lines(log))
    print(
        f"FIGURES two schedulers: {len(runs)} slots, {sum(runs.values())} executions, "
        f"kicked {kicked[0]} and {kicked[1]} times by the two schedulers"
    )
    assert runs and set(runs.values()) == {1}, f"a slot ran twice: {runs}"
    assert all(run.startswith("every-second@") for run in runs)
    slots = sorted(int(run.split("@")[1]) for run in runs)
    assert slots == list(range(slots[0], slots[-1] + 1)), "a slot was skipped"
    assert min(kicked) >= len(runs) - 2  # both fired (nearly) every slot: one execution each


async def test_schedules_cli_adds_pauses_and_deletes_at_runtime(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log, db = tmp_path / "log", tmp_path / "schedules.db"
    env = {"ZQ_TEST_ADDRESS": producer.endpoint, "ZQ_TEST_LOG": str(log), "ZQ_TEST_DB": str(db)}
    workers(producer.endpoint, "-w", "1", app=f"{APP}:broker", env=env)
    await producer.wait_workers(1)
    proc = start_scheduler("dynamic", env, "--state-file", str(tmp_path / "state.db"))
    sid = schedules_cli(db, "add", "note", "--interval", "1", "--args", '["hi"]', "--id", "s1")
    assert sid == "s1"
    assert "active\tevery 1s\tnote" in schedules_cli(db, "list")
    await asyncio.wait_for(producer.wait_until(lambda s: s["stats"].completed >= 2), 30)
    assert schedules_cli(db, "pause", "s1") == "s1 paused"
    assert "paused" in schedules_cli(db, "list")
    hi_at_pause = count(log, "hi:")
    # While paused nothing is kicked: a second schedule proves time went on meanwhile.
    schedules_cli(db, "add", "note", "--interval", "1", "--args", '["other"]', "--id", "s2")
    await asyncio.wait_for(producer.wait_until(lambda s: count(log, "other:") >= 3), 30)
    hi_paused = count(log, "hi:")
    assert hi_paused <= hi_at_pause + 1  # at most a kick that was under way
    schedules_cli(db, "delete", "s2")
    schedules_cli(db, "resume", "s1")
    await asyncio.wait_for(producer.wait_until(lambda s: count(log, "hi:") >= hi_paused + 2), 30)
    others = count(log, "other:")
    schedules_cli(db, "delete", "s1")
    assert schedules_cli(db, "list") == ""
    await stop(proc)
    assert count(log, "other:") <= others + 1  # deleted: no more runs
    runs = Counter(log_lines(log))
    assert set(runs.values()) == {1}
    print(
        f"FIGURES schedules CLI: s1 ran {count(log, 'hi:')} times ({hi_paused - hi_at_pause} "
        f"after the pause), s2 {count(log, 'other:')}"
    )


async def test_a_finished_run_kicked_again_is_dropped(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    workers(producer.endpoint, "-w", "1")
    await producer.wait_workers(1)
    kicker = AsyncKicker("tests.integration.app_tasks:record", producer, {"schedule_id": "s"})
    first = await kicker.with_task_id("s@1").kiq("slot1", str(log))
    await first.wait_result(timeout=20)
    again = AsyncKicker("tests.integration.app_tasks:record", producer, {"schedule_id": "s"})
    await again.with_task_id("s@1").kiq("slot1", str(log))  # a late second scheduler
    other = await kicker.with_task_id("s@2").kiq("slot2", str(log))
    await other.wait_result(timeout=20)
    stats = (await producer.stats())["stats"]
    assert stats.repeated_kicks == 1 and stats.submitted == 2 and stats.duplicates == 0
    assert Counter(log_lines(log)) == {"slot1": 1, "slot2": 1}
