"""`zq worker` process management: signals, recycling, rolling reloads, failures, ack points."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import cli_app
from tests.integration.conftest import Worker, read_log, wait_for_file, wait_for_log
from zq import ZeroMQBroker, gather
from zq.kicker import AsyncKicker
from zq.task import AsyncTaskiqTask

APP = "tests.integration.cli_app:broker"
Start = Callable[..., Worker]


async def kick(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> AsyncTaskiqTask[Any]:
    return await AsyncKicker(f"{cli_app.__name__}:{name}", broker, labels).kiq(*args)


async def pids(broker: ZeroMQBroker) -> set[int]:
    return {p.pid for p in (await broker.stats())["executors"].values()}


async def test_first_signal_finishes_running_tasks_and_exits_0(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    worker = workers(producer.endpoint, "-w", "1", "--max-async-tasks", "2", app=APP, capture=True)
    await producer.wait_workers(1)
    await worker.expect("dispatcher(s): ")  # ready: a worker stopped while starting hands back
    slow = [await kick(producer, "slow_record", f"s{i}", str(log), 0.5) for i in range(2)]
    # Same task name: the dispatcher serves one name's queue in order (names share credit).
    queued = [await kick(producer, "slow_record", f"q{i}", str(log), 0) for i in range(3)]
    await producer.wait_until(lambda s: s["leased"] == 2 and s["pending"] == 3)
    worker.signal(signal.SIGINT)
    results = await gather(*slow, timeout=30)
    assert [r.return_value for r in results] == ["s0", "s1"]  # running tasks finished
    assert worker.wait(30) == 0
    stats = await producer.stats()
    assert stats["pending"] == 3 and stats["leased"] == 0  # the rest wait for another worker
    out = worker.output
    assert "shutting down gracefully" in out
    assert "waiting for 2 in-flight task(s) in 1 worker process(es)" in out
    assert "zq worker stopped: 2 task(s) run" in out
    workers(producer.endpoint, "-w", "1", app=APP)
    assert [r.return_value for r in await gather(*queued, timeout=30)] == ["q0", "q1", "q2"]


async def test_start_lines_name_tasks_queues_and_dispatchers(
    producer: ZeroMQBroker, workers: Start
) -> None:
    worker = workers(producer.endpoint, "-w", "1", "-q", "emails,reports", app=APP, capture=True)
    await producer.wait_workers(1)
    # The dispatcher knows the child before the child has told its supervisor it is ready:
    # wait for the supervisor's line itself, not for the dispatcher.
    await worker.expect("dispatcher(s): ")
    worker.stop()
    # (this test process may hold shared tasks of other tests; the worker has only the app's)
    tasks = sorted(n for n in cli_app.broker.get_all_tasks() if n.startswith(cli_app.__name__))
    assert f"zq worker starting 1 process(es) for {APP}" in worker.output
    assert f"registered {len(tasks)} task(s): {', '.join(tasks)}" in worker.output
    assert "queues: emails, reports" in worker.output
    assert f"dispatcher(s): {producer.endpoint}" in worker.output


async def test_second_signal_cancels_running_tasks_and_hands_them_back(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    worker = workers(producer.endpoint, "-w", "1", app=APP, capture=True)
    await producer.wait_workers(1)
    await worker.expect("dispatcher(s): ")  # ready (see above)
    tasks = [await kick(producer, "block", f"b{i}", str(log)) for i in range(3)]
    await producer.wait_until(lambda s: s["leased"] == 3)  # all running (no prefetch)
    worker.signal(signal.SIGINT)
    await worker.expect("shutting down gracefully")
    worker.signal(signal.SIGINT)
    assert worker.wait(30) == 0
    stats = await producer.wait_until(lambda s: s["pending"] == 3)
    assert stats["leased"] == 0 and stats["stats"].requeued == 3
    assert "cancelling running tasks and handing them back" in worker.output
    assert len(tasks) == 3


async def test_sigterm_to_the_whole_group_still_lets_running_tasks_finish(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    """A service manager that signals every process (systemd's default) adds one SIGTERM per
    child to the supervisor's: a child takes any number of them as one graceful stop."""
    log = tmp_path / "log"
    worker = workers(producer.endpoint, "-w", "1", app="tests.integration.app_tasks:broker")
    await asyncio.wait_for(producer.wait_workers(1), 30)
    kicker = AsyncKicker("tests.integration.app_tasks:stoppable", producer, {})
    handle = await kicker.kiq(0, str(log), 1.0)
    await wait_for_log(log, lambda c: any(t.startswith("start/") for t in c))
    child = next(iter((await producer.stats())["executors"].values())).pid
    for pid in (worker.pid, child, child):  # the group's SIGTERM, then the supervisor's
        os.kill(pid, signal.SIGTERM)
    assert (await handle.wait_result(timeout=30)).return_value == 0  # ran to its end
    assert await asyncio.to_thread(worker.wait, 30) == 0


@pytest.mark.parametrize("hardkill", [3, 2])
async def test_the_nth_signal_kills_at_once(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path, hardkill: int
) -> None:
    log = tmp_path / "log"
    args = ("-w", "2", "--hardkill-count", str(hardkill))
    worker = workers(producer.endpoint, *args, app=APP, capture=True)
    await producer.wait_workers(2)
    # Tasks that ignore cancellation (the second signal cannot end them), until each child
    # runs one: a child with none would drain and exit at the first signal, and the kill
    # would then name one process (seen in a CI run).
    kicked = 0
    while kicked < 40:
        await kick(producer, "stubborn", f"b{kicked}", str(log))
        kicked += 1
        stats = await producer.wait_until(lambda s, n=kicked: s["leased"] == n)
        if len(stats["leases"]) == 2 and all(stats["leases"].values()):
            break
    children = await pids(producer)
    for n in range(1, hardkill):
        worker.signal(signal.SIGINT)
        await worker.expect(["shutting down gracefully", "cancelling running tasks"][n - 1])
    worker.signal(signal.SIGINT)
    last = time.monotonic()
    code = worker.wait(10)
    assert time.monotonic() - last < 1.0, "the last signal did not kill at once"
    assert code == 1
    assert "killing 2 worker process(es) now" in worker.output
    for pid in children:  # the children are gone too
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_max_tasks_per_child_recycles_without_loss_or_duplicates(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    args = ("-w", "2", "--max-tasks-per-child", "300", "--max-async-tasks", "20")
    worker = workers(producer.endpoint, *args, app=APP, capture=True)
    await producer.wait_workers(2)
    tokens = [f"t{i}" for i in range(2000)]
    tasks = [await kick(producer, "slow_record", t, str(log), 0.001) for t in tokens]
    results = await gather(*tasks, timeout=120)
    assert [r.return_value for r in results] == tokens
    executed, worker_pids = read_log(log)
    assert set(executed) == set(tokens), "a task was lost"
    assert set(executed.values()) == {1}, "a task ran twice"
    assert len(worker_pids) >= 2 + 3, "fewer than 3 recycles"
    assert (await producer.stats())["stats"].executors_lost == 0  # planned, not failures
    assert worker.stop() == 0
    assert "died" not in worker.output


async def test_sighup_replaces_every_child_without_loss_or_duplicates(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    worker = workers(producer.endpoint, "-w", "2", "--max-async-tasks", "10", app=APP)
    await producer.wait_workers(2)
    tokens = [f"t{i}" for i in range(2000)]
    tasks = [await kick(producer, "slow_record", t, str(log), 0.01) for t in tokens]
    seen = await pids(producer)
    for _ in range(3):  # three rolling restarts while the tasks run
        old = await pids(producer)
        worker.signal(signal.SIGHUP)
        stats = await producer.wait_until(
            lambda s, old=old: (
                len(s["executors"]) == 2 and not {p.pid for p in s["executors"].values()} & old
            )
        )
        seen |= {p.pid for p in stats["executors"].values()}
    results = await gather(*tasks, timeout=120)
    assert [r.return_value for r in results] == tokens
    executed, _ = read_log(log)
    assert set(executed) == set(tokens), "a task was lost"
    assert set(executed.values()) == {1}, "a task ran twice"
    assert len(seen) == 8  # 2 children, replaced 3 times each
    assert (await producer.stats())["stats"].executors_lost == 0


# For each --ack-type: (leases the dispatcher must have seen acked before the kill, tasks that
# come back). "running" is killed mid-execution, "executed" between its execution and saving its
# result, "self_acked" after acking itself with Context.ack(), which never comes back.
ACK_POINTS = {
    "when_received": (3, set()),
    "when_executed": (2, {"running"}),
    "when_saved": (1, {"running", "executed"}),
    "manual": (1, {"running", "executed"}),
}


@pytest.mark.parametrize("ack_type", list(ACK_POINTS))
async def test_ack_type_decides_what_comes_back_after_a_kill(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path, ack_type: str
) -> None:
    acks, back = ACK_POINTS[ack_type]
    log, held = tmp_path / "log", tmp_path / "held"
    workers(producer.endpoint, "-w", "1", "--ack-type", ack_type, app=APP)
    await producer.wait_workers(1)
    (peer,) = (await producer.stats())["executors"].values()
    tasks = {
        "running": await kick(producer, "block", "r", str(log)),
        "executed": await kick(producer, "typed", 1, hold=str(held)),
        "self_acked": await kick(producer, "ack_then_block", "s", str(log)),
    }
    await producer.wait_until(lambda s: s["leased"] == 3)
    await wait_for_file(held)  # "executed" is parked after running, before its result
    await producer.wait_until(lambda s: s["stats"].acked == acks)
    os.kill(peer.pid, signal.SIGKILL)
    stats = await producer.wait_until(lambda s: s["stats"].executors_lost == 1)
    lost = {letter.task_id for letter in await producer.dead_letters()}
    expected_lost = {tasks[name].task_id for name in set(tasks) - back}
    assert lost == expected_lost
    assert stats["stats"].requeued == len(back)
    for name in set(tasks) - back:
        result = await tasks[name].wait_result(timeout=30)
        assert result.is_err and type(result.error).__name__ == "TaskLostError"


async def test_max_fails_exits_non_zero_after_n_crashes(
    producer: ZeroMQBroker, workers: Start
) -> None:
    worker = workers(producer.endpoint, "-w", "1", "--max-fails", "2", app=APP, capture=True)
    await producer.wait_workers(1)
    await kick(producer, "crash")  # kills its process each time it is delivered
    assert await asyncio.to_thread(worker.wait, 60) == 1  # the dispatcher keeps running
    assert "2 worker process(es) died (--max-fails 2): giving up" in worker.output


async def test_shutdown_timeout_bounds_the_broker_shutdown(
    producer: ZeroMQBroker, workers: Start
) -> None:
    env = {cli_app.SHUTDOWN_HANG: "1"}  # a WORKER_SHUTDOWN handler that never returns
    worker = workers(producer.endpoint, "-w", "1", "--shutdown-timeout", "0.2", app=APP, env=env)
    await producer.wait_workers(1)
    worker.signal(signal.SIGINT)
    assert worker.wait(4) == 0  # the default (5 s) would not be done by now


async def test_wait_tasks_timeout_cancels_and_hands_back_what_is_still_running(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    args = ("-w", "1", "--wait-tasks-timeout", "0.3")
    worker = workers(producer.endpoint, *args, app=APP, capture=True)
    await producer.wait_workers(1)
    task = await kick(producer, "block", "b", str(log))
    done = await kick(producer, "slow_record", "s", str(log), 0.0)
    await producer.wait_until(lambda s: s["leased"] == 1 and s["stats"].completed == 1)
    worker.signal(signal.SIGINT)
    assert await asyncio.to_thread(worker.wait, 10) == 0
    stats = await producer.wait_until(lambda s: s["pending"] == 1)  # handed back, not lost
    assert stats["stats"].requeued == 1
    assert (await done.wait_result(timeout=5)).return_value == "s"
    assert "still running after 0.3s: cancelling them and handing them back" in worker.output
    assert task.task_id not in {letter.task_id for letter in await producer.dead_letters()}


async def test_reload_restarts_children_with_the_new_code(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    src, elsewhere = tmp_path / "src", tmp_path / "run"
    src.mkdir()
    elsewhere.mkdir()
    (src / "app.py").write_text(
        "from zq import ZeroMQBroker\n\nbroker = ZeroMQBroker('tcp://127.0.0.1:5555')\n\n\n"
        "@broker.task\nasync def version() -> str:\n    return 'v1'\n"
    )
    # Run from elsewhere: only --reload-dir points the watcher at the source.
    args = ("-w", "2", "--reload", "--reload-dir", str(src), "--app-dir", str(src))
    workers(producer.endpoint, *args, app="app:broker", cwd=elsewhere)
    await producer.wait_workers(2)
    kicker = AsyncKicker("app:version", producer, {})
    assert (await (await kicker.kiq()).wait_result(timeout=30)).return_value == "v1"
    old = await pids(producer)
    app = src / "app.py"
    app.write_text(app.read_text().replace("'v1'", "'v2'"))
    await producer.wait_until(
        lambda s: len(s["executors"]) == 2 and not {p.pid for p in s["executors"].values()} & old
    )
    assert (await (await kicker.kiq()).wait_result(timeout=30)).return_value == "v2"
    assert (await producer.stats())["stats"].executors_lost == 0
