"""Faults of worker hosts: killed, frozen, killed by their own task, restarted at once.

Each case states its bound and checks it against the tasks' own execution log.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from tests.faults import app
from tests.faults.conftest import APP, Worker, kick_work, oracle, parent_of
from zq import ZeroMQBroker, gather
from zq.exceptions import DeliveryLimitError


def host_leases(stats: dict[str, object], host: Worker) -> int:
    """Tasks leased to the executors of one worker host (its children)."""
    executors = stats["executors"]
    leases = stats["leases"]
    assert isinstance(executors, dict) and isinstance(leases, dict)
    return sum(
        leases.get(peer, 0) for peer, info in executors.items() if parent_of(info.pid) == host.pid
    )


async def test_sigkill_one_of_two_hosts_with_200_in_flight_loses_nothing(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    """Bound: all 1,000 complete; lost = 0; duplicates <= the killed host's in-flight count."""
    log = tmp_path / "log"
    doomed = workers(producer.endpoint, "-w", "2", "--max-async-tasks", "100", app=APP, group=True)
    workers(producer.endpoint, "-w", "2", "--max-async-tasks", "100", app=APP)
    await producer.wait_workers(4)
    tokens = [f"t{i}" for i in range(1000)]
    tasks = await kick_work(producer, tokens, log, seconds=0.3)
    stats = await producer.wait_until(lambda s: host_leases(s, doomed) >= 200)
    in_flight = host_leases(stats, doomed)
    doomed.signal_host(signal.SIGKILL)
    results = await gather(*tasks, timeout=60)
    assert [r.return_value for r in results] == tokens
    lost, duplicated = oracle(log, tokens)
    assert lost == []
    assert len(duplicated) <= in_flight == 200
    stats = await producer.stats()
    assert stats["stats"].executors_lost == 2
    assert stats["stats"].requeued >= in_flight - len(duplicated)
    print(
        f"\nFIGURES case 1: in flight {in_flight}; requeued {stats['stats'].requeued}; "
        f"duplicated {len(duplicated)}; lost 0"
    )


async def test_a_frozen_host_is_declared_lost_and_its_late_results_are_deduplicated(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    """Bound: lost = 0; every extra execution's result is counted as a duplicate, not stored."""
    log = tmp_path / "log"
    frozen = workers(producer.endpoint, "-w", "1", "--max-async-tasks", "50", app=APP, group=True)
    other = workers(producer.endpoint, "-w", "1", "--max-async-tasks", "50", app=APP)
    await producer.wait_workers(2)
    tokens = [f"t{i}" for i in range(400)]
    tasks = await kick_work(producer, tokens, log, seconds=0.2)
    await producer.wait_until(lambda s: host_leases(s, frozen) >= 50)
    frozen.signal_host(signal.SIGSTOP)  # longer than the liveness timeout (1 s):
    try:
        stats = await producer.wait_until(lambda s: s["stats"].executors_lost >= 1)
        # Keep it frozen until the other host ran what was requeued (the queue's front), so
        # that the thawed host's results come late, for tasks already done. The other host has
        # 50 slots: its next 50 completions are what it was running, the 50 after them are the
        # requeued tasks it took next (equal durations finish in the order they started).
        done = stats["stats"].completed
        await producer.wait_until(lambda s: s["stats"].completed >= done + 100)
    finally:
        frozen.signal_host(signal.SIGCONT)
    results = await gather(*tasks, timeout=60)
    assert [r.return_value for r in results] == tokens
    # Stop both hosts gracefully: what the thawed one was running finishes and reports.
    assert await asyncio.to_thread(frozen.stop) == 0
    assert await asyncio.to_thread(other.stop) == 0
    lost, duplicated = oracle(log, tokens)
    assert lost == []
    extra = sum(n - 1 for n in duplicated.values())
    stats = await producer.wait_until(lambda s: s["stats"].duplicates >= extra)
    assert stats["stats"].duplicates == extra and stats["stats"].completed == 400
    assert extra > 0  # the thawed host did finish its tasks, late
    assert len(producer.result_store or []) == 400  # one result per task
    print(f"\nFIGURES case 2: extra executions {extra}; duplicates counted {extra}; lost 0")


async def test_a_poison_task_is_dead_lettered_at_its_limit_and_the_rest_complete(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    """Bound: the poison runs max_deliveries (3) times, then its caller gets the error."""
    log = tmp_path / "log"
    workers(producer.endpoint, "-w", "1", "--max-async-tasks", "10", app=APP)
    poison = await app.poison.kicker().with_broker(producer).kiq(str(log))
    tokens = [f"t{i}" for i in range(100)]
    tasks = await kick_work(producer, tokens, log, seconds=0.05)
    result = await poison.wait_result(timeout=60)
    assert isinstance(result.error, DeliveryLimitError)
    assert "delivery limit 3" in str(result.error)
    results = await gather(*tasks, timeout=60)
    assert [r.return_value for r in results] == tokens
    lost, duplicated = oracle(log, tokens)
    assert lost == [] and duplicated.get("poison") == 3
    letters = await producer.dead_letters()
    assert [d.task_name for d in letters] == ["poison"]
    stats = await producer.stats()
    print(
        f"\nFIGURES case 3: poison ran 3 times; executors lost {stats['stats'].executors_lost}; "
        f"others 100/100 complete, duplicated {len(duplicated) - 1}"
    )


async def test_a_worker_restarted_at_once_is_routable_before_the_old_one_is_missed(
    workers: Callable[..., Worker], tmp_path: Path
) -> None:
    """A restarted worker is a new session: it takes tasks as soon as it says hello, while the
    dispatcher still counts the old one (its liveness timeout here is 60 s)."""
    log = tmp_path / "log"
    async with ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=30, liveness_timeout_s=60) as broker:
        first = workers(broker.endpoint, "-w", "1", app=APP, group=True)
        await broker.wait_workers(1)
        [before] = await kick_work(broker, ["before"], log)
        await before.wait_result(timeout=30)
        first.signal_host(signal.SIGKILL)
        workers(broker.endpoint, "-w", "1", app=APP)  # the same command, right away
        stats = await broker.wait_until(lambda s: len(s["executors"]) == 2)  # old one not missed
        assert stats["stats"].executors_lost == 0
        [after] = await kick_work(broker, ["after"], log)
        assert (await after.wait_result(timeout=30)).return_value == "after"
        lost, duplicated = oracle(log, ["before", "after"])
        assert lost == [] and duplicated == {}
        print("\nFIGURES case 8: the new session ran a task; the old one still registered")
