"""Groups (fan-out, fan-in) and nesting on real `zq worker` processes; the tasks log as oracle."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Worker, read_log, wait_for_log
from zq import ZeroMQBroker
from zq.exceptions import DependencyFailedError, TaskCancelledError
from zq.kicker import AsyncKicker
from zq.pipelines import Pipeline, group, signature

APP = "tests.integration.workflow_app"


def task(broker: ZeroMQBroker, name: str) -> AsyncKicker[Any, Any]:
    return AsyncKicker(f"{APP}:{name}", broker, {})


def runs(log: Path) -> Counter[str]:
    return read_log(log)[0]


@contextlib.asynccontextmanager
async def served(
    workers: Callable[..., Worker], *options: str, hosts: int = 1, processes: int = 1
) -> AsyncIterator[ZeroMQBroker]:
    """A dispatcher (the workers' heartbeat settings) and ``hosts`` worker hosts, joined."""
    settings: dict[str, Any] = {"heartbeat_s": 0.2, "liveness_timeout_s": 1.0}
    async with ZeroMQBroker("tcp://127.0.0.1:*", **settings) as broker:
        for _ in range(hosts):
            workers(broker.endpoint, "-w", str(processes), *options, app=f"{APP}:broker")
        await broker.wait_workers(hosts * processes)
        yield broker


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "executions.log"
    monkeypatch.setenv("ZQ_WORKFLOW_LOG", str(path))  # the workers inherit it
    return path


async def test_a_thousand_fan_out_and_the_callback_gets_them_in_kick_order(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers, hosts=2) as broker:
        members = [signature(task(broker, "square"), i) for i in range(1000)]
        chord = group(broker, members).call_next(task(broker, "gathered"))
        result = await (await chord.kiq()).wait_result(timeout=60)
        assert result.return_value == [i * i for i in range(1000)]
        ran = runs(log)
        assert all(ran[f"square/{i}"] == 1 for i in range(1000)) and ran["gathered/1000"] == 1
        pids = read_log(log)[1]
        print(f"FIGURES fan-out: 1000 members on {len(pids)} worker processes")
        assert len(pids) == 2  # both workers took part


async def test_a_group_in_a_pipeline_in_a_group(workers: Callable[..., Worker], log: Path) -> None:
    async with served(workers, processes=2) as broker:
        square, add, total = task(broker, "square"), task(broker, "add"), task(broker, "total")
        inner = (
            Pipeline(broker)
            .call_next(task(broker, "numbers"), n=4)  # [0, 1, 2, 3]
            .call_next(total)  # 6
            .group([square, signature(add, y=100)])  # [36, 106]
            .call_next(total)  # 142
        )
        outer = group(broker, [inner, signature(square, 7), signature(add, 1, y=2)])
        result = await (await outer.kiq()).wait_result(timeout=60)
        assert result.return_value == [142, 49, 3]
        ran = runs(log)
        assert ran["square/6"] == ran["add/6/100"] == ran["square/7"] == 1

        # A failing member fails the group, and what waits on it, with its error.
        broken = [signature(task(broker, "broken"), 1), signature(square, 2)]
        failing = group(broker, broken).call_next(task(broker, "gathered"))
        outcome = await (await failing.kiq()).wait_result(timeout=60)
        assert outcome.is_err and str(outcome.error) == "member 1 broke"


async def test_a_step_s_retry_retries_that_step_only(
    workers: Callable[..., Worker], log: Path
) -> None:
    log.touch()
    async with served(workers) as broker:
        square = task(broker, "square")
        # (kicked by name: the labels the app's decorator has travel from here, as in taskiq)
        flaky = task(broker, "flaky").with_labels(retry_on_error=True, max_retries=3)
        pipe = Pipeline(broker, square).call_next(flaky).call_next(square)
        result = await (await pipe.kiq(3)).wait_result(timeout=30)
        assert result.return_value == (3 * 3 + 10) ** 2
        ran = runs(log)
        assert ran["flaky/9"] == 2 and ran["square/3"] == 1 and ran["square/19"] == 1


async def test_a_task_waits_for_its_dependencies_and_fails_with_them(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers, "--queues", "default") as broker:
        first = await task(broker, "slow").kiq(3)  # 20 ms of work
        second = await task(broker, "slow").kiq(4)
        after = await task(broker, "add").depends_on(first, second).kiq(1, y=2)
        assert (await after.wait_result(timeout=30)).return_value == 3
        order = [line.split()[0] for line in log.read_text().splitlines()]
        assert order.index("add/1/2") > max(order.index("slow/3"), order.index("slow/4"))

        # Held while its dependency waits (a queue nobody serves): explain says so.
        blocked = await AsyncKicker(f"{APP}:square", broker, {"queue": "nobody"}).kiq(5)
        waiting = await task(broker, "add").depends_on(blocked).kiq(1)
        assert await broker.explain(waiting.task_id) == (
            f"waiting for its dependencies to succeed: {blocked.task_id}"
        )
        assert (await broker.stats())["delayed"] == 1
        await broker.cancel(blocked.task_id)  # cancelled: what waited on it fails
        outcome = await waiting.wait_result(timeout=30)
        assert isinstance(outcome.error, DependencyFailedError)
        assert f"dependency {blocked.task_id} was cancelled" in str(outcome.error)

        broken = await task(broker, "broken").kiq(9)
        never = await task(broker, "add").depends_on(broken).kiq(2)
        outcome = await never.wait_result(timeout=30)
        assert isinstance(outcome.error, DependencyFailedError)
        assert "failed (ValueError: member 9 broke)" in str(outcome.error)
        unknown = await task(broker, "add").depends_on("no-such-task").kiq(3)
        outcome = await unknown.wait_result(timeout=30)
        assert "dependency no-such-task is unknown" in str(outcome.error)
        ran = runs(log)
        assert ran["add/2/0"] == 0 and ran["add/3/0"] == 0 and ran["add/1/0"] == 0  # never ran


async def test_cancelling_a_workflow_s_handle_stops_its_steps(
    workers: Callable[..., Worker], log: Path
) -> None:
    async with served(workers, "--max-async-tasks", "4") as broker:
        pipe = (
            Pipeline(broker, task(broker, "numbers"))
            .map(task(broker, "sleepy"))  # 10 items, 4 slots: 4 run, 6 wait
            .call_next(task(broker, "total"))
        )
        handle = await pipe.kiq(10)
        await broker.wait_until(lambda s: s["leased"] == 4 and s["pending"] == 6)
        # (the 4 have started: the log says so)
        await wait_for_log(log, lambda ran: sum(k.startswith("sleepy-start") for k in ran) == 4)
        assert await handle.cancel() == "cancelling"  # some of its steps were running
        outcome = await handle.wait_result(timeout=30)
        assert isinstance(outcome.error, TaskCancelledError)
        await broker.wait_until(lambda s: s["leased"] == 0 and s["pending"] == 0)
        ran = runs(log)
        started = [x for x in range(10) if ran[f"sleepy-start/{x}"]]
        assert len(started) == 4 and all(ran[f"sleepy-finally/{x}"] == 1 for x in started)
        assert not any(ran[f"sleepy-end/{x}"] for x in range(10)) and ran["total/10"] == 0
        assert await handle.cancel() == "cancelled"  # asked again: it is
