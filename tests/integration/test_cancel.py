"""Cancelling tasks, with real workers: pending ones never start, running ones stop.

The tasks' own log is the oracle: a ``start`` line for each run that began, an ``end`` line
for each that ran to the end, a ``finally`` line for each that stopped (with monotonic ns).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration import context_app
from tests.integration.conftest import ROOT, Worker, free_address, wait_for_log
from zq import AsyncTaskiqTask, ZeroMQBroker, gather
from zq.exceptions import TaskCancelledError
from zq.kicker import AsyncKicker

APP = "tests.integration.app_tasks"


async def serve(
    producer: ZeroMQBroker, workers: Callable[..., Worker], count: int, *args: str, app: str = ""
) -> None:
    """Start a worker host of ``count`` processes and wait until each has joined."""
    workers(producer.endpoint, "-w", str(count), *args, **({"app": app} if app else {}))
    await asyncio.wait_for(producer.wait_workers(count), 30)


def lines(counts: Counter[str], kind: str) -> dict[int, int]:
    """``{task number: ns}`` of the log lines of one kind (``start``, ``end``, ``finally``)."""
    found = {}
    for token in counts:
        parts = token.split("/")
        if parts[0] == kind:
            found[int(parts[1])] = int(parts[2])
    return found


async def test_500_pending_and_10_running_cancelled_the_rest_complete(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    await serve(producer, workers, 2, "--max-async-tasks", "10")
    kicker = AsyncKicker(f"{APP}:stoppable", producer, {})
    # The first 20 fill the 20 slots for 1 s (10 of them are cancelled while they run); the
    # rest take 50 ms, so the 490 that complete take 2.5 s, not 25, and the 500 at the back
    # are still pending when they are cancelled (the queue ahead of them takes seconds).
    handles = [await kicker.kiq(i, str(log), 1.0 if i < 20 else 0.05) for i in range(1000)]
    counts = await wait_for_log(log, lambda c: len(lines(c, "start")) >= 20)
    running = sorted(lines(counts, "start"))[:10]
    pending = list(range(500, 1000))
    asked = time.monotonic_ns()
    assert await asyncio.gather(*(handles[i].cancel() for i in running)) == ["cancelling"] * 10
    assert await producer.cancel_many([handles[i].task_id for i in pending]) == ["cancelled"] * 500
    results = await gather(*handles, timeout=120)
    cancelled = set(running) | set(pending)
    for i, result in enumerate(results):
        if i in cancelled:
            assert isinstance(result.error, TaskCancelledError), (i, result)
        else:
            assert not result.is_err and result.return_value == i
    counts = Counter(line.split()[0] for line in log.read_text().splitlines())
    starts, ends, stops = lines(counts, "start"), lines(counts, "end"), lines(counts, "finally")
    assert len(starts) == sum(1 for token in counts if token.startswith("start/"))  # once each
    assert not set(pending) & set(starts)  # the 500 never started
    assert not set(running) & set(ends)  # the 10 never reached their end
    late = {i: (stops[i] - asked) / 1e6 for i in running}
    assert max(late.values()) < 100, late  # each stopped (its finally ran) within 100 ms
    assert set(ends) == set(range(1000)) - cancelled  # the other 490 ran to the end
    # Asked again, each says what it is now; nothing raises.
    assert await handles[running[0]].cancel() == "cancelled"
    assert await handles[1].cancel() in ("finished", "cancelled")
    assert await producer.cancel("no-such-task") == "unknown"
    print(f"\nFIGURES cancel: slowest running-task stop {max(late.values()):.1f} ms after the ask")


async def test_a_second_process_and_zq_cancel_cancel_through_the_dispatcher(
    producer: ZeroMQBroker, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    kicker = AsyncKicker(f"{APP}:stoppable", producer, {})
    handles = [await kicker.kiq(i, str(log), 0.0) for i in range(4)]  # no worker: all pending
    ids = [h.task_id for h in handles]
    script = [sys.executable, "-m", "tests.integration.cancel_script", producer.endpoint]
    joined = await asyncio.to_thread(
        subprocess.run, [*script, ids[0], ids[1], "nope"], cwd=ROOT, capture_output=True, text=True
    )
    assert joined.returncode == 0, joined.stderr
    assert "OUTCOMES cancelled cancelled unknown" in joined.stdout
    shell = [sys.executable, "-m", "zq", "cancel", "--connect", producer.endpoint]
    cli = await asyncio.to_thread(
        subprocess.run, [*shell, ids[2], ids[0]], cwd=ROOT, capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.splitlines() == [
        f"{ids[2]}: cancelled (it had not started)",
        f"{ids[0]}: cancelled (it had not started)",  # twice: no error
    ]
    unknown = await asyncio.to_thread(
        subprocess.run, [*shell, "nope"], cwd=ROOT, capture_output=True, text=True
    )
    assert unknown.returncode == 1 and "no such task" in unknown.stdout
    results = await gather(*handles[:3], timeout=30)
    assert all(isinstance(r.error, TaskCancelledError) for r in results)
    assert (await producer.stats())["pending"] == 1  # the fourth still waits
    assert not log.exists()


async def test_a_task_on_a_worker_cancels_another_task(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    await serve(producer, workers, 1, "--max-async-tasks", "2")
    victim = await AsyncKicker(f"{APP}:stoppable", producer, {}).kiq(0, str(log), 60.0)
    await wait_for_log(log, lambda c: len(lines(c, "start")) == 1)
    asked = await AsyncKicker(f"{APP}:canceller", producer, {}).kiq(victim.task_id)
    assert (await asked.wait_result(timeout=30)).return_value == "cancelling"
    assert isinstance((await victim.wait_result(timeout=30)).error, TaskCancelledError)


async def test_zq_cancel_says_so_when_no_dispatcher_answers(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "zq", "cancel", "--connect", "tcp://127.0.0.1:1", "--timeout"]
    done = await asyncio.to_thread(
        subprocess.run, [*cmd, "0.5", "some-id"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "no zq dispatcher answered at tcp://127.0.0.1:1" in done.stderr


async def test_a_sync_task_in_the_process_pool_is_stopped_by_ending_its_process(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    pool = ("--use-process-pool", "--max-process-pool-processes", "1")
    await serve(producer, workers, 1, *pool)
    kicker = AsyncKicker(f"{APP}:sync_stoppable", producer, {})
    handle = await kicker.kiq(str(log), 60.0)
    counts = await wait_for_log(log, lambda c: any(t.startswith("start/") for t in c))
    pid = int(next(t for t in counts if t.startswith("start/")).split("/")[1])
    assert await handle.cancel() == "cancelling"
    result = await handle.wait_result(timeout=30)
    assert isinstance(result.error, TaskCancelledError)
    gone = await asyncio.to_thread(_gone, pid)
    assert gone, f"pool process {pid} still runs"
    again = await (await kicker.kiq(str(log), 0.0)).wait_result(timeout=60)
    assert again.return_value != pid  # the pool replaced the process
    assert "end" in Counter(log.read_text().split())  # only the second one ended


async def test_the_timeout_label_ends_a_sync_task_in_the_process_pool(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    await serve(producer, workers, 1, "--use-process-pool")
    kicker = AsyncKicker(f"{APP}:sync_stoppable", producer, {"timeout": 1})
    result = await (await kicker.kiq(str(log), 60.0)).wait_result(timeout=60)
    assert isinstance(result.error, TimeoutError), result
    counts = Counter(log.read_text().split())
    pid = int(next(t for t in counts if t.startswith("start/")).split("/")[1])
    assert await asyncio.to_thread(_gone, pid), f"pool process {pid} still runs"
    assert "end" not in counts


async def test_a_sync_task_in_a_thread_sees_context_cancelled(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    await serve(producer, workers, 1, app=context_app.APP)
    handle = await AsyncKicker(f"{context_app.__name__}:polite", producer, {}).kiq(str(log))
    await wait_for_log(log, lambda c: "start" in c)
    assert await handle.cancel() == "cancelling"
    result = await handle.wait_result(timeout=30)
    assert isinstance(result.error, TaskCancelledError)
    await wait_for_log(log, lambda c: "saw-cancel" in c)  # the thread looked, and stopped


async def test_a_cancelled_task_is_not_run_again_after_a_restart(
    workers: Callable[..., Worker], tmp_path: Path
) -> None:
    """With a journal, both kinds of cancel are on disk at once: a restart resurrects neither."""
    journal, address, log = str(tmp_path / "zq.db"), free_address(), tmp_path / "log"
    settings: dict[str, Any] = {"heartbeat_s": 0.2, "liveness_timeout_s": 1.0}
    async with ZeroMQBroker(address, journal=journal, **settings) as broker:
        host = workers(address, "-w", "1", "--max-async-tasks", "1", group=True)
        await asyncio.wait_for(broker.wait_workers(1), 30)
        kicker = AsyncKicker(f"{APP}:stoppable", broker, {})
        running = await kicker.kiq(0, str(log), 60.0)
        await wait_for_log(log, lambda c: len(lines(c, "start")) == 1)
        pending = await kicker.kiq(1, str(log), 0.0)
        host.signal_host(signal.SIGKILL)  # its result never comes: only the journal knows
        assert await broker.cancel(pending.task_id) == "cancelled"
        assert await broker.cancel(running.task_id) == "cancelling"
    async with ZeroMQBroker(address, journal=journal, **settings) as broker:
        stats = await broker.stats()
        assert stats["pending"] == 0 and stats["stats"].recovered == 0
        workers(address, "-w", "1")
        await asyncio.wait_for(broker.wait_workers(1), 30)
        for handle in (running, pending):
            again = AsyncTaskiqTask(handle.task_id, broker.result_backend)
            assert isinstance((await again.wait_result(timeout=30)).error, TaskCancelledError)
    assert len(log.read_text().splitlines()) == 1  # the one start line: nothing ran again


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` ended within ``timeout``: its pidfd turns readable when it does."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
