"""zq on a LAN of network namespaces that misbehaves (issue 22); the execution log is the oracle.

Each test builds its own LAN (``tests/lan/netbed.py``): a dispatcher host running
``producer.py`` and worker hosts running real `zq worker` processes, every link through a
delay proxy where the test says so; faults come from the test, on a schedule. Needs root.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import wait_for_log
from tests.lan import netbed
from tests.lan.cluster import PORT, ROOT, Cluster, executions, finished, runs_of

why_not = netbed.available()
pytestmark = pytest.mark.skipif(why_not is not None, reason=why_not or "")


async def test_delay_jitter_and_black_holes_lose_nothing_and_count_every_duplicate(
    tmp_path: Path,
) -> None:
    log = tmp_path / "executions.log"
    tasks, slots, delay_ms = 20_000, 20, 20.0
    with netbed.lan(4, tag="a") as net:
        cluster = Cluster(net, log)
        options = ("--in-flight", str(6 * slots), "--settle", "30")
        producer = cluster.start(tasks, slots, *options, delay_ms=delay_ms)
        victim = cluster.workers[0]
        windows = 0

        async def black_holes() -> None:  # 2 s of silence on one link, every 10 s
            nonlocal windows
            await wait_for_log(log, lambda ran: sum(ran.values()) >= 2_000)  # the load is on
            while True:
                net.black_hole(cluster.dispatcher, victim)
                windows += 1
                await asyncio.sleep(2)  # the fault's length, not a wait for anything
                net.black_hole(cluster.dispatcher, victim, on=False)
                await asyncio.sleep(8)  # the time between two faults

        faults = asyncio.ensure_future(black_holes())
        try:
            assert (
                await asyncio.wait_for(asyncio.to_thread(producer.stdout.readline), 120) == "done\n"
            )
        finally:
            faults.cancel()
        net.black_hole(cluster.dispatcher, victim, on=False)
        # A window may still have been open: the cut-off worker's results come once it is
        # over, and the duplicates they make are counted then. The producer waits for them.
        runs = executions(log)
        twice = sum(count - 1 for count in runs.values())
        producer.stdin.write(f"{twice}\n")
        producer.stdin.flush()
        report = await finished(producer, 60)
    lost = [i for i in range(tasks) if runs[i] == 0]
    stats = report["stats"]
    bound = 3 * slots / (2 * delay_ms / 1000)  # credit over the round trip, tasks/s
    print(
        f"FIGURES lan: {tasks} tasks, 3 worker hosts x {slots} slots, {delay_ms:g}±{delay_ms / 4:g}"
        f" ms each way, {windows} black-hole window(s) of 2 s: {report['seconds']:.1f} s, "
        f"{tasks / report['seconds']:,.0f} tasks/s (bound {bound:,.0f}), p50 "
        f"{report['p50_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms; ran twice {twice}, "
        f"duplicates counted {stats['duplicates']}, requeued {stats['requeued']}, "
        f"executors lost {stats['executors_lost']}"
    )
    assert lost == []
    assert windows >= 2  # the run is long enough for the fault to come back
    assert stats["duplicates"] == twice


async def test_a_worker_cut_off_past_the_liveness_timeout_rejoins_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    log = tmp_path / "executions.log"
    tasks = 2_000  # 6.7 s of work on 30 slots: the cut-off host is back before the end
    with netbed.lan(4, tag="b") as net:
        cluster = Cluster(net, log)
        producer = cluster.start(tasks, 10, "--in-flight", "60", "--seconds", "0.1")
        victim = cluster.workers[0]
        await wait_for_log(log, lambda ran: sum(ran.values()) >= 300)  # the load is on
        cut = time.time()
        net.cable(victim, up=False)
        await asyncio.sleep(3.0)  # the outage's length: three times the liveness timeout (1 s)
        net.cable(victim, up=True)
        back = time.time()
        report = await finished(producer, 120)
    runs = runs_of(log)
    counts = Counter(i for i, _, _ in runs)
    started = {i: pid for i, pid, at in runs if at < cut}
    moved = {i for i, pid, at in runs if at >= cut and i in started and started[i] != pid}
    rejoined = sorted(at for _, pid, at in runs if at > back and pid in _pids_of(runs, cut, back))
    twice = sum(count - 1 for count in counts.values())
    stats = report["stats"]
    recovery = rejoined[0] - back if rejoined else float("nan")
    print(
        f"FIGURES lan: a worker host cut off for 3 s (liveness 1 s) and plugged back: "
        f"{len(moved)} of its tasks ran elsewhere, it ran a task again {recovery:.2f} s after "
        f"its cable was back; ran twice {twice}, duplicates counted {stats['duplicates']}; "
        f"{tasks} tasks in {report['seconds']:.1f} s"
    )
    assert [i for i in range(tasks) if counts[i] == 0] == []
    assert moved  # what it held when cut off ran elsewhere
    assert rejoined  # it rejoined and took tasks again
    assert stats["duplicates"] == twice


def _pids_of(runs: list[tuple[int, int, float]], cut: float, back: float) -> set[int]:
    """Worker processes that ran nothing while the cable was out: the cut-off host's."""
    before = {pid for _, pid, at in runs if at < cut}
    during = {pid for _, pid, at in runs if cut + 0.5 < at < back}
    return before - during


async def test_the_dispatcher_cut_off_for_10_s_gets_the_results_workers_kept(
    tmp_path: Path,
) -> None:
    log = tmp_path / "executions.log"
    tasks = 120  # four rounds of 30 slots: 0.5 s each, one of them cut off for 10 s
    with netbed.lan(4, tag="c") as net:
        cluster = Cluster(net, log)
        producer = cluster.start(tasks, 10, "--in-flight", "30", "--seconds", "0.5")
        await wait_for_log(log, lambda ran: sum(ran.values()) >= 30)  # every slot busy
        cut = time.time()
        net.cable(cluster.dispatcher, up=False)
        await asyncio.sleep(10.0)  # the outage's length (the 10 s)
        net.cable(cluster.dispatcher, up=True)
        report = await finished(producer, 120)
    runs = runs_of(log)
    counts = Counter(i for i, _, _ in runs)
    held = {i for i, _, at in runs if at < cut and counts[i] >= 1}  # running when cut off
    rerun = {i for i in held if counts[i] > 1}
    twice = sum(count - 1 for count in counts.values())
    stats = report["stats"]
    print(
        f"FIGURES lan: the dispatcher cut off for 10 s: {len(held)} tasks had started, "
        f"{len(rerun)} of them ran again; ran twice {twice}, duplicates counted "
        f"{stats['duplicates']}; {tasks} tasks in {report['seconds']:.1f} s"
    )
    assert [i for i in range(tasks) if counts[i] == 0] == []
    assert stats["duplicates"] == twice
    # The results the workers kept ended their tasks: only those another worker took first
    # (it rejoined before their own worker did) ran again, at most two workers' worth.
    assert len(held) >= 30 and len(rerun) <= 20


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed")
async def test_workers_with_skewed_clocks_run_delayed_tasks_on_the_dispatcher_s_time(
    tmp_path: Path,
) -> None:
    log = tmp_path / "executions.log"
    tasks, delay = 60, 1.0
    with netbed.lan(3, tag="e") as net:
        cluster = Cluster(net, log)
        args = ("--workers", "2", "--tasks", str(tasks), "--in-flight", str(tasks))
        producer = cluster.producer(*args, "--delay", str(delay))
        for host, skew in zip(cluster.workers, ("+3h", "-3h"), strict=True):
            cluster.worker(host, "--max-async-tasks", "10", clock=["faketime", "-f", skew])
        report = await finished(producer, 60)
    runs = runs_of(log)
    skews = sorted({round((at - time.time()) / 3600) for _, _, at in runs})
    stats = report["stats"]
    print(
        f"FIGURES lan: {tasks} tasks with delay {delay:g} s on two workers whose clocks read "
        f"{skews} h off: kiq to result {report['min_ms']:.0f}..{report['p99_ms']:.0f} ms "
        f"(p50 {report['p50_ms']:.0f}); executors lost {stats['executors_lost']}"
    )
    assert skews == [-3, 3]  # both ran tasks, each on its skewed clock
    assert sorted(executions(log).values()) == [1] * tasks
    assert delay * 1000 <= report["min_ms"] and report["p99_ms"] < delay * 1000 + 1500
    assert stats["executors_lost"] == 0


async def test_a_name_with_two_addresses_is_two_dispatchers_for_one_worker(tmp_path: Path) -> None:
    log = tmp_path / "executions.log"
    with netbed.lan(3, tag="f") as net:
        cluster = Cluster(net, log)
        first, second, worker = net.hosts
        net.names(worker, {"dispatchers.lan": [first, second]})  # a round-robin name
        args = ("--workers", "1", "--tasks", "100")
        producers = [cluster.producer(*args, host=host) for host in (first, second)]
        cluster.worker(worker, "--max-async-tasks", "10", connect=f"dispatchers.lan:{PORT}")
        reports = [await finished(producer, 60) for producer in producers]
    assert [report["stats"]["completed"] for report in reports] == [100, 100]
    print(
        f"FIGURES lan: one worker, --connect tcp://dispatchers.lan:{PORT} (two A records): "
        "both dispatchers' 100 tasks ran"
    )


async def test_a_producer_routes_one_queue_to_another_dispatcher(tmp_path: Path) -> None:
    log, tasks = tmp_path / "executions.log", 200
    with netbed.lan(4, tag="h") as net:
        cluster = Cluster(net, log)
        first, second, *workers = net.hosts
        routed = f"tcp://{second.address}:{PORT}"  # queue "b" lives there: `zq dispatcher`
        dispatcher = [sys.executable, "-m", "zq", "dispatcher", "tests.lan.lan_app:broker"]
        options = ["--address", routed, "--no-journal", "--log-level", "WARNING"]
        net.spawn(second, [*dispatcher, *options], cluster.env, cwd=ROOT)
        args = ("--workers", "2", "--tasks", str(tasks), "--route", f"b={routed}")
        producer = cluster.producer(*args, "--split", "b")  # odd-numbered tasks to queue b
        app = {"ZQ_LAN_ADDRESS": f"tcp://{first.address}:{PORT}", "ZQ_LAN_ROUTES": ""}
        app["ZQ_LAN_ROUTES"] = json.dumps({"b": routed})
        for host in workers:  # the app's addresses: both dispatchers
            cluster.worker(host, "--max-async-tasks", "10", connect="", env=app)
        report = await finished(producer, 60)
        status = [sys.executable, "-m", "zq", "status", "--connect", routed, "--json"]
        shown = net.spawn(first, status, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        routed_stats = json.loads(shown.communicate(timeout=30)[0])["counters"]
    runs = runs_of(log)
    by_worker: dict[int, set[int]] = {}
    for i, pid, _ in runs:
        by_worker.setdefault(pid, set()).add(i % 2)
    print(
        f"FIGURES lan: queue b routed to a second dispatcher: {report['stats']['completed']} "
        f"tasks completed on the first, {routed_stats['completed']} on the second; each worker "
        "ran tasks of both"
    )
    assert executions(log) == dict.fromkeys(range(tasks), 1)
    assert report["stats"]["completed"] == routed_stats["completed"] == tasks // 2
    assert sorted(map(sorted, by_worker.values())) == [[0, 1], [0, 1]]
