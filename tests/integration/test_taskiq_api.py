"""taskiq API behaviours that only a real dispatcher and real workers show."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT, wait_for_file
from zq import (
    AsyncResultBackend,
    InMemoryBroker,
    TaskiqError,
    TaskiqEvents,
    TaskiqResult,
    TaskRejectedError,
    ZeroMQBroker,
)
from zq.exceptions import TaskLostError
from zq.kicker import AsyncKicker
from zq.task import AsyncTaskiqTask

APP = "tests.integration.api_app:broker"


async def kick(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> AsyncTaskiqTask[Any]:
    return await AsyncKicker(name, broker, labels).kiq(*args)


async def test_a_middleware_that_raises_in_every_hook_loses_nothing(workers: Any) -> None:
    from tests.integration.api_app import Exploding

    broker = ZeroMQBroker("tcp://127.0.0.1:*").with_middlewares(Exploding())
    async with broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        ok = [await kick(broker, "api:double", i) for i in range(20)]
        failed = await kick(broker, "api:fail")
        results = [await t.wait_result(timeout=20) for t in ok]
        assert [r.return_value for r in results] == [2 * i for i in range(20)]
        error = (await failed.wait_result(timeout=20)).error
        assert isinstance(error, ValueError)


async def test_rejected_task_is_dead_lettered_with_its_reason(workers: Any) -> None:
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        task = await kick(broker, "api:reject")
        result = await task.wait_result(timeout=20)
        assert isinstance(result.error, TaskRejectedError)
        letters = await broker.dead_letters()
        assert [(d.task_id, d.task_name) for d in letters] == [(task.task_id, "api:reject")]
        assert "not for us" in letters[0].reason


async def test_a_delayed_task_waits_in_the_dispatcher_until_due(workers: Any) -> None:
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        await broker.wait_workers(1)
        later = await kick(broker, "api:double", 1, delay=60)
        soon = await kick(broker, "api:double", 2, delay=0.2)
        now = await kick(broker, "api:double", 3)
        assert (await now.wait_result(timeout=20)).return_value == 6
        stats = await broker.stats()
        assert stats["delayed"] >= 1  # `later` (and maybe `soon`) held, not sent
        assert (await soon.wait_result(timeout=20)).return_value == 4
        assert not await later.is_ready()
        assert (await broker.stats())["delayed"] == 1
        # Without this the stop would wait its whole drain timeout for the held task.
        assert await later.cancel() == "cancelled"


async def test_another_process_gets_a_result_by_task_id_alone(workers: Any) -> None:
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        done = await kick(broker, "api:double", 21)
        await done.wait_result(timeout=20)
        later = await kick(broker, "api:double", 50, delay=0.5)  # still running when asked
        for task, expected in ((done, 42), (later, 100)):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.integration.fetch_script", broker.endpoint,
                task.task_id, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            assert out.decode().split() == ["RESULT", str(expected)]


class DictBackend(AsyncResultBackend[Any]):
    """A plugged-in result backend: a dict in the producer."""

    def __init__(self) -> None:
        self.results: dict[str, TaskiqResult[Any]] = {}
        self.started = self.stopped = False

    async def startup(self) -> None:
        self.started = True

    async def shutdown(self) -> None:
        self.stopped = True

    async def set_result(self, task_id: str, result: TaskiqResult[Any]) -> None:
        self.results[task_id] = result

    async def is_result_ready(self, task_id: str) -> bool:
        return task_id in self.results

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult[Any]:
        return self.results[task_id]


async def test_with_result_backend_stores_results_in_the_plugged_backend(workers: Any) -> None:
    backend = DictBackend()
    broker = ZeroMQBroker("tcp://127.0.0.1:*").with_result_backend(backend)
    async with broker:
        assert backend.started
        workers(broker.endpoint, "-w", "1", app=APP)
        task = await kick(broker, "api:double", 4)
        assert task.result_backend is backend
        result = await task.wait_result(timeout=20, check_interval=0.02)
        assert result.return_value == 8
        assert backend.results[task.task_id].return_value == 8
    assert backend.stopped


async def test_client_events_run_with_the_state() -> None:
    seen: list[str] = []
    broker = ZeroMQBroker("tcp://127.0.0.1:*")

    @broker.on_event(TaskiqEvents.CLIENT_STARTUP)
    async def started(state: Any) -> None:
        state.db = "connected"
        seen.append("startup")

    def stopped(state: Any) -> None:
        seen.append(f"shutdown {state['db']}")

    broker.add_event_handler(TaskiqEvents.CLIENT_SHUTDOWN, stopped)
    broker.with_event_handlers(TaskiqEvents.WORKER_STARTUP, lambda state: seen.append("worker"))
    async with broker:
        assert broker.state.db == "connected"
    assert seen == ["startup", "shutdown connected"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_prometheus_metrics_of_all_worker_processes_on_one_endpoint(
    workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    monkeypatch.setenv("ZQ_TEST_METRICS_PORT", str(port))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        workers(broker.endpoint, "-w", "2", app=APP)
        await broker.wait_workers(2)
        tasks = [await kick(broker, "api:pid") for _ in range(200)]
        pids = {(await t.wait_result(timeout=20)).return_value for t in tasks}
        assert len(pids) == 2  # both worker processes ran tasks
        url = f"http://127.0.0.1:{port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    lines = body.decode().splitlines()
    assert 'received_tasks_total{task_name="api:pid"} 200.0' in lines
    assert 'success_tasks_total{task_name="api:pid"} 200.0' in lines


async def test_an_exception_class_the_client_cannot_import_comes_back_generated(
    workers: Any,
) -> None:
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        error = (await (await kick(broker, "api:local_error")).wait_result(timeout=20)).error
    assert isinstance(error, TaskiqError)
    assert type(error).__name__ == "OnlyOnTheWorker"
    assert (error.args, error.code) == (("code 7",), 7)  # type: ignore[attr-defined]
    assert "Remote traceback" in "\n".join(error.__notes__)


async def test_labels_keep_their_types_and_kicker_options_apply(workers: Any) -> None:
    labels = {"l_int": 1, "l_float": 1.5, "l_bool": True, "l_str": "s", "l_bytes": b"\x00"}
    labels |= {"l_list": [1, "a"], "l_dict": {"k": [2]}}
    async with ZeroMQBroker("tcp://127.0.0.1:*") as other, InMemoryBroker() as unused:
        workers(other.endpoint, "-w", "1", app=APP)
        echo = unused.register_task(lambda: None, "api:echo_labels")
        task = (
            await echo.kicker().with_broker(other).with_task_id("my-id").with_labels(**labels).kiq()
        )
        assert task.task_id == "my-id"
        assert (await task.wait_result(timeout=20)).return_value == labels
        assert echo.labels == {}  # nothing leaked into the task


async def test_a_task_acked_early_whose_worker_dies_is_dead_lettered(
    workers: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "acked"
    async with ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        task = await kick(broker, "api:ack_then_hang", str(marker))
        await wait_for_file(marker)
        # The task writes its marker as soon as it asked for the ack, which travels after it:
        # killing before the dispatcher has it would test a task never acked (it is requeued,
        # and hangs on the next worker): a flake, also before issue 15.
        await broker.wait_until(lambda s: s["stats"].acked >= 1)
        os.kill(int(marker.read_text()), signal.SIGKILL)
        result = await task.wait_result(timeout=20)
        assert isinstance(result.error, TaskLostError)
        assert [d.task_id for d in await broker.dead_letters()] == [task.task_id]


async def test_worker_events_run_in_each_worker_process(
    workers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "lifecycle"
    monkeypatch.setenv("ZQ_TEST_LIFECYCLE_LOG", str(log))
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        worker = workers(broker.endpoint, "-w", "2", app=APP)
        await broker.wait_workers(2)
        assert await asyncio.to_thread(worker.stop) == 0
    lines = [line.split() for line in log.read_text().splitlines()]
    pids = {pid for pid, _ in lines}
    assert len(pids) == 2
    assert sorted(event for _, event in lines) == ["down", "down", "up", "up"]
    for pid in pids:  # each process: start-up first, shutdown last
        assert [e for p, e in lines if p == pid] == ["up", "down"]
