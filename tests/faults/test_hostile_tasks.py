"""Hostile tasks: each kind runs on a worker with one slot, then a canary on that same worker.

Bound: every hostile caller gets an error result (never a hang), and the canary completes, so
the worker is still useful after any task.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults import hostile_app
from tests.faults.conftest import Worker, read_log
from zq import ZeroMQBroker

APP = "tests.faults.hostile_app:broker"

# kind -> (task, labels, what the caller's error says)
KINDS: dict[str, tuple[Any, dict[str, Any], str]] = {
    "base_exception": (hostile_app.hostile, {}, "Interrupt"),
    "cancelled": (hostile_app.hostile, {}, "CancelledError"),
    "awaits_cancelled_helper": (hostile_app.hostile, {}, "CancelledError"),
    "system_exit": (hostile_app.hostile, {}, "SystemExit"),
    "keyboard_interrupt": (hostile_app.hostile, {}, "KeyboardInterrupt"),
    "undescribable": (hostile_app.hostile, {}, "ValueError"),
    "unprintable": (hostile_app.hostile, {}, "Unprintable"),
    "generator_exit": (hostile_app.hostile, {}, "GeneratorExit"),
    "huge_result": (hostile_app.hostile, {}, "ResultTooLargeError"),
    "async_timeout": (hostile_app.hostile, {"timeout": 0.3}, "TimeoutError"),
    "sync_system_exit": (hostile_app.hostile_sync, {}, "SystemExit"),
    # three in a row on a pool of two threads: the third finds a fresh pool
    "sync_timeout": (hostile_app.hostile_sync, {"timeout": 0.3}, "TimeoutError"),
    "sync_base_exception": (hostile_app.hostile_sync, {}, "Interrupt"),
}


@pytest.fixture
async def one_slot(
    tmp_path: Path, workers: Callable[..., Worker]
) -> tuple[ZeroMQBroker, Worker, Path]:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    await broker.startup()
    worker = workers(
        broker.endpoint,
        "-w",
        "1",
        "--max-async-tasks",
        "1",
        "--max-threadpool-threads",
        "2",
        "--loop-block-timeout",
        "1",
        app=APP,
        capture=True,
    )
    await broker.wait_workers(1)
    yield broker, worker, tmp_path / "log"
    await broker.shutdown()


async def run_then_canary(
    broker: ZeroMQBroker, log: Path, kind: str, task: Any, labels: dict[str, Any]
) -> tuple[Any, Any]:
    hostile = await task.kicker().with_broker(broker).with_labels(**labels).kiq(kind, str(log))
    bad = await hostile.wait_result(timeout=60)
    canary = hostile_app.canary_sync if task is hostile_app.hostile_sync else hostile_app.canary
    handle = await canary.kicker().with_broker(broker).kiq(f"after-{kind}", str(log))
    good = await handle.wait_result(timeout=60)
    return bad, good


async def test_every_hostile_kind_gets_an_error_and_the_worker_runs_the_next_task(
    one_slot: tuple[ZeroMQBroker, Worker, Path],
) -> None:
    broker, _worker, log = one_slot
    for kind, (task, labels, error) in KINDS.items():
        bad, good = await run_then_canary(broker, log, kind, task, labels)
        assert bad.is_err, kind
        said = f"{type(bad.error).__name__}: {bad.error.args}"
        assert error in said, (kind, said)
        assert not good.is_err and good.return_value == f"after-{kind}", kind
    for again in range(2):  # the pool of two threads now has two stuck in sleep(3600)
        kind = f"sync_timeout_{again}"
        bad, good = await run_then_canary(
            broker, log, "sync_timeout", hostile_app.hostile_sync, {"timeout": 0.3}
        )
        assert isinstance(bad.error, TimeoutError), kind
        assert good.return_value == "after-sync_timeout", kind
    executed, pids = read_log(log)
    assert all(executed[kind] == 1 for kind in KINDS if kind != "sync_timeout"), executed
    assert len(pids) == 1  # one worker process ran them all: none of them killed it
    # Two threads still sleep past their timeout: the first SIGINT still stops the worker.
    _worker.signal(signal.SIGINT)
    assert await asyncio.to_thread(_worker.wait, 10) == 0


async def exited(pid: int, timeout: float) -> None:
    """Wait until process ``pid`` (not our child) has exited, woken by its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(fd, gone.set)
    try:
        await asyncio.wait_for(gone.wait(), timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def test_a_task_that_forks_gets_its_own_result_and_its_copy_leaves_quietly(
    one_slot: tuple[ZeroMQBroker, Worker, Path],
) -> None:
    """The forked copy of the worker returns into zq with the parent's loop and sockets: it
    exits there without sending anything, reporting anything or touching the supervisor's page;
    the caller gets the parent's result, and the worker goes on."""
    broker, worker, log = one_slot
    bad, good = await run_then_canary(broker, log, "fork", hostile_app.hostile, {})
    assert bad.return_value == "parent"
    assert good.return_value == "after-fork"
    executed, _ = read_log(log)
    [forked] = [int(t.split("-")[1]) for t in executed if t.startswith("forked-")]
    await exited(forked, 10)
    for i in range(20):  # the worker still runs tasks, and nothing came from the copy
        handle = await hostile_app.canary.kicker().with_broker(broker).kiq(f"more-{i}", str(log))
        assert (await handle.wait_result(timeout=30)).return_value == f"more-{i}"
    stats = await broker.stats()
    assert stats["stats"].unknown_results == 0 and stats["stats"].duplicates == 0
    assert worker.stop() == 0
    assert "died" not in worker.output


# kind -> what the caller gets: these end their process, which is replaced
FATAL = {"os_exit": "DeliveryLimitError", "block_loop": "DeliveryLimitError"}


async def test_tasks_that_end_or_freeze_their_process_fail_alone(
    one_slot: tuple[ZeroMQBroker, Worker, Path],
) -> None:
    """``os._exit`` and a blocked event loop: the process is replaced (a blocked loop is
    detected by the supervisor), each delivery counts, the caller gets ``DeliveryLimitError``
    at the limit, the canary completes, and the host stays up."""
    broker, worker, log = one_slot
    for kind, error in FATAL.items():
        bad, good = await run_then_canary(
            broker, log, kind, hostile_app.hostile, {"max_deliveries": 2}
        )
        assert type(bad.error).__name__ == error, (kind, bad.error)
        assert good.return_value == f"after-{kind}", kind
    executed, pids = read_log(log)
    assert executed["os_exit"] == 2 and executed["block_loop"] == 2
    assert len(pids) == 5  # 2 + 2 processes ended by the tasks, then the one with the canary
    assert worker.process.poll() is None
    # A SIGINT while a task blocks the loop: the blocked process cannot drain, so it is
    # replaced by the kill, and the host stops.
    blocker = await hostile_app.hostile.kicker().with_broker(broker).kiq("block_loop", str(log))
    await broker.wait_until(lambda s: s["leased"] == 1)
    worker.signal(signal.SIGINT)
    assert await asyncio.to_thread(worker.wait, 15) == 0
    assert not await blocker.is_ready()  # it goes back to the queue, for another worker
    assert "its event loop has not run for" in worker.output
    assert "giving up" not in worker.output
