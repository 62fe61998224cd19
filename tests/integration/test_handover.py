"""Issue 17: the queue outlives the process that embeds it.

Real processes; the execution log the tasks write is the oracle for "lost" and "duplicated".
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, free_address, read_log
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker

COUNT = 2000
STREAM: dict[str, object] = {"until_stdin": True, "pace_s": 0.001, "results": True}


class Producer:
    """``handover_script`` in a subprocess; its stdout lines are read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(
        cls, address: str, count: int, log: Path, prefix: str, **options: object
    ) -> Producer:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.handover_script",
            address,
            str(count),
            str(log),
            prefix,
            json.dumps(options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def expect(self, prefix: str, timeout: float = 60.0) -> str:
        """The next stdout line starting with ``prefix`` (earlier lines are kept)."""
        assert self.process.stdout is not None

        async def read() -> str:
            while True:
                line = (await self.process.stdout.readline()).decode()  # type: ignore[union-attr]
                if not line:
                    raise AssertionError(f"the producer exited before printing {prefix!r}")
                self.lines.append(line.strip())
                if line.startswith(prefix):
                    return line.strip()

        return await asyncio.wait_for(read(), timeout)

    async def report(self, timeout: float = 60.0) -> dict[str, object]:
        line = await self.expect("REPORT ", timeout)
        assert await asyncio.wait_for(self.process.wait(), timeout) == 0
        result: dict[str, object] = json.loads(line.removeprefix("REPORT "))
        return result

    def release(self) -> None:
        """Let a ``hold`` producer leave."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")


def exactly_once(log: Path, tokens: list[str]) -> None:
    counts, _ = read_log(log)
    missing = [t for t in tokens if counts[t] == 0]
    twice = {t: n for t, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} never ran, e.g. {missing[:5]}"
    assert not twice, f"{len(twice)} ran more than once, e.g. {list(twice.items())[:5]}"


async def test_a_script_that_kicks_and_exits_has_every_task_run_once(
    tmp_path: Path, workers: object
) -> None:
    address, log = free_address(), tmp_path / "runs.log"
    script = await Producer.start(address, COUNT, log, "s", start_stdin=True)
    assert await script.expect("STARTED ") == "STARTED bound"
    worker = workers(address, "-w", "2", capture=True)  # type: ignore[operator]
    await worker.expect("dispatcher(s): ")  # the worker has joined before the script kicks
    script.release()  # (a worker that finds no dispatcher says it is up only after 10 s)
    report = await script.report()
    assert report == {"unfinished": 0, "kept_by": None, "lost": 0}
    exactly_once(log, [f"s{n}" for n in range(COUNT)])


async def test_with_no_worker_and_no_journal_the_stop_ends_in_time_and_names_the_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = ZeroMQBroker(free_address(), shutdown_timeout_s=5.0)
    kicker = AsyncKicker("tests.integration.app_tasks:record", broker, {})
    with caplog.at_level(logging.INFO, "zq"):
        await broker.startup()
        for n in range(COUNT):
            await kicker.kiq(str(n), "/dev/null")
        started = time.monotonic()
        report = await broker.shutdown()
        took = time.monotonic() - started
    assert took < 5.0  # within its timeout: it waited a moment for a worker, none came
    assert len(report.unfinished) == COUNT and report.lost == report.unfinished
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"stopping with {COUNT} task(s) not run, lost" in errors[0]
    assert "no worker connected: waiting up to 1s for one" in caplog.text


async def binder_and_joined(
    tmp_path: Path, workers: object, a_count: int, a_options: dict[str, object], **b_options: object
) -> tuple[Path, Producer, Producer]:
    """Binder A (``a_count`` tasks, held open), a worker, and B joined with a kick stream."""
    address, log = free_address(), tmp_path / "runs.log"
    a = await Producer.start(address, a_count, log, "a", hold=True, **a_options)
    assert await a.expect("STARTED ") == "STARTED bound"
    worker = workers(address, "-w", "2", capture=True)  # type: ignore[operator]
    await worker.expect("dispatcher(s): ")
    b = await Producer.start(address, 20_000, log, "b", **b_options, **STREAM)
    assert await b.expect("STARTED ") == "STARTED joined"
    await a.expect("KICKED ")
    return log, a, b


async def test_a_binder_that_exits_hands_over_to_a_joined_producer(
    tmp_path: Path, workers: object
) -> None:
    log, a, b = await binder_and_joined(tmp_path, workers, COUNT, {}, trace=True)
    a.release()  # A leaves gracefully while B keeps kicking
    assert await a.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    await b.expect("TOOK OVER")  # B binds the address; its kiq()s waited meanwhile
    at_takeover = int(next(x for x in reversed(b.lines) if x.startswith("K ")).split()[1])
    await b.expect(f"K {at_takeover + 100}")  # and they go on
    b.release()
    kicked = int((await b.expect("KICKED ")).split()[1])
    assert await b.expect("RESULTS ") == f"RESULTS {kicked} bound"  # every result
    assert await b.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    exactly_once(log, [f"a{n}" for n in range(COUNT)] + [f"b{n}" for n in range(kicked)])


async def test_a_killed_binder_is_replaced_by_a_joined_producer(
    tmp_path: Path, workers: object
) -> None:
    log, a, b = await binder_and_joined(tmp_path, workers, COUNT, {}, stats=True)
    # every kiq() of A returned (KICKED): B, the standby, has them all
    a.process.kill()  # no goodbye: B notices the silence (liveness 1 s) and binds
    await a.process.wait()
    await b.expect("TOOK OVER")  # B prints it once it is the dispatcher (then its kicks go on)
    b.release()
    kicked = int((await b.expect("KICKED ")).split()[1])
    assert await b.expect("RESULTS ") == f"RESULTS {kicked} bound"
    duplicates = int((await b.expect("STATS ")).split()[1])
    # B's report comes once every task it took over has run: the log is complete then.
    assert await b.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    counts, _ = read_log(log)
    tokens = [f"a{n}" for n in range(COUNT)] + [f"b{n}" for n in range(kicked)]
    lost = [t for t in tokens if counts[t] == 0]
    assert not lost, f"{len(lost)} tasks whose kiq() returned never ran, e.g. {lost[:5]}"
    again = sum(counts[t] - 1 for t in tokens)
    print(f"FIGURES binder SIGKILLed with a worker up: {again} ran twice, {duplicates} counted")
    assert again <= 2 * 100  # only tasks running when A died (2 processes x 100 slots)
    assert again <= duplicates  # and each second run is counted


async def test_zq_dispatcher_keeps_the_tasks_of_producers_that_exit_through_a_kill(
    tmp_path: Path, workers: object
) -> None:
    address, log, journal = free_address(), tmp_path / "runs.log", tmp_path / "journal.db"
    options = ("--address", address, "--journal", str(journal))
    first = workers(None, *options, command="dispatcher", capture=True)  # type: ignore[operator]
    await first.expect("zq dispatcher ready on")
    for prefix in ("p", "q"):  # two scripts kick and exit: no worker is up yet
        script = await Producer.start(address, COUNT, log, prefix)
        assert await script.expect("STARTED ") == "STARTED joined"
        report = await script.report()  # it waited only until its tasks were on disk
        assert report == {
            "unfinished": COUNT,
            "kept_by": f"the journal of the dispatcher at {address}",
            "lost": 0,
        }
    first.process.kill()  # kill -9: the journal has every task whose script was told so
    first.wait(10)
    second = workers(None, *options, command="dispatcher", capture=True)  # type: ignore[operator]
    await second.expect("zq dispatcher ready on")
    workers(address, "-w", "2")  # type: ignore[operator]
    for prefix in ("p", "q"):  # a later process of the app waits for those results by id
        waiter = await Producer.start(address, COUNT, log, prefix, fetch=True)
        assert await waiter.expect("RESULTS ", timeout=90) == f"RESULTS {COUNT} joined"
        await waiter.report()
    exactly_once(log, [f"{p}{n}" for p in ("p", "q") for n in range(COUNT)])


async def test_a_stalled_binder_keeps_its_address_and_serves_again_when_it_wakes(
    tmp_path: Path, workers: object
) -> None:
    """The split-brain rule: only the process holding the port serves it. SIGSTOP the binder
    past the liveness timeout: the joined producer cannot bind, keeps its tasks and tries
    again; after SIGCONT the old binder serves, and the producer joins it once more."""
    log, a, b = await binder_and_joined(tmp_path, workers, 500, {"stats": True})
    os.kill(a.process.pid, signal.SIGSTOP)
    try:
        await b.expect("ORPHANED")  # B saw the silence
        await b.expect("RETRYING")  # it could not bind (A holds the port) nor join (A sleeps)
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    b.release()
    kicked = int((await b.expect("KICKED ")).split()[1])
    assert await b.expect("RESULTS ") == f"RESULTS {kicked} joined"  # A serves, B is joined
    a.release()
    duplicates = int((await a.expect("STATS ")).split()[1])
    assert await a.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    assert await b.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    results_at = b.lines.index(f"RESULTS {kicked} joined")
    assert "TOOK OVER" not in b.lines[:results_at]  # (once A leaves at the end, B may take over)
    counts, _ = read_log(log)
    tokens = [f"a{n}" for n in range(500)] + [f"b{n}" for n in range(kicked)]
    assert all(counts[t] >= 1 for t in tokens)
    again = sum(counts[t] - 1 for t in tokens)
    print(f"FIGURES split brain: {kicked} kicked by B, {again} ran twice, {duplicates} counted")
    assert again <= duplicates  # a second run only where the dispatcher counted one


async def test_a_binder_killed_mid_burst_loses_nothing_its_kiq_returned_for(
    tmp_path: Path, workers: object
) -> None:
    """A joined process is the standby: it holds a copy of the binder's own tasks before their
    kiq() returns, and runs them after it took the address over. No worker is up while the
    binder kicks, so every task it kicked is still pending when it is killed."""
    address, log = free_address(), tmp_path / "runs.log"
    a = await Producer.start(address, 20_000, log, "a", start_stdin=True, trace=True)
    assert await a.expect("STARTED ") == "STARTED bound"
    b = await Producer.start(address, 20_000, log, "b", **STREAM)
    assert await b.expect("STARTED ") == "STARTED joined"
    a.release()  # B has joined: A's kicks are copied to it from the first one on
    await a.expect("K 1500")
    a.process.kill()
    await a.process.wait()
    assert a.process.stdout is not None
    rest = (await a.process.stdout.read()).decode().split()
    traced = [int(n) for k, n in zip(rest[::2], rest[1::2], strict=False) if k == "K"]
    returned = max([1500, *traced])  # the last kiq() of A that returned
    await b.expect("TOOK OVER")
    workers(address, "-w", "2")  # type: ignore[operator]
    b.release()
    kicked = int((await b.expect("KICKED ")).split()[1])
    assert await b.expect("RESULTS ") == f"RESULTS {kicked} bound"
    # B's report comes once every task it took over has run: the log is complete then.
    assert await b.report() == {"unfinished": 0, "kept_by": None, "lost": 0}
    counts, _ = read_log(log)
    lost = [f"a{n}" for n in range(returned + 1) if counts[f"a{n}"] == 0]
    assert not lost, f"{len(lost)} of A's acknowledged tasks never ran, e.g. {lost[:5]}"
    exactly_once(log, [f"a{n}" for n in range(returned + 1)] + [f"b{n}" for n in range(kicked)])
    print(f"FIGURES binder killed: {returned + 1} kiq()s of A returned, all ran once")


async def test_a_script_with_a_journal_exits_and_its_tasks_run_once_a_worker_comes(
    tmp_path: Path, workers: object
) -> None:
    """No worker while the script runs: its tasks stay in its journal, and whatever serves that
    journal next (the app's next start, or `zq dispatcher` as here) runs them."""
    address, log, journal = free_address(), tmp_path / "runs.log", tmp_path / "script.db"
    script = await Producer.start(address, COUNT, log, "j", journal=str(journal))
    report = await script.report()  # with a journal it stops at once: the tasks are on disk
    assert report == {"unfinished": COUNT, "kept_by": f"journal {journal}", "lost": 0}
    options = ("--address", address, "--journal", str(journal))
    dispatcher = workers(None, *options, command="dispatcher", capture=True)  # type: ignore[operator]
    await dispatcher.expect("zq dispatcher ready on")
    workers(address, "-w", "2")  # type: ignore[operator]
    waiter = await Producer.start(address, COUNT, log, "j", fetch=True)
    assert await waiter.expect("RESULTS ", timeout=90) == f"RESULTS {COUNT} joined"
    await waiter.report()
    exactly_once(log, [f"j{n}" for n in range(COUNT)])
