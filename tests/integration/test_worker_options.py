"""`zq worker` options, each against real worker processes on random loopback ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration import cli_app
from tests.integration.conftest import ROOT, Worker, read_log
from zq import ZeroMQBroker, gather
from zq.kicker import AsyncKicker
from zq.receiver import Receiver
from zq.worker.loader import AppLoadError, discover, receiver_kwargs

APP = "tests.integration.cli_app:broker"
Start = Callable[..., Worker]


async def run(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> Any:
    """Kick a task by name and return its value (raising its error)."""
    kicker = AsyncKicker(f"tests.integration.cli_app:{name}", broker, labels)
    result = await (await kicker.kiq(*args)).wait_result(timeout=30)
    return result.return_value if not result.is_err else result.raise_for_error()


async def executors(broker: ZeroMQBroker, count: int) -> list[Any]:
    """The PeerInfo of each executor, once ``count`` have joined."""
    await asyncio.wait_for(broker.wait_workers(count), 30)
    return list((await broker.stats())["executors"].values())


async def test_a_factory_found_through_app_dir(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    # Started outside the project: only --app-dir makes `tests` importable.
    workers(
        producer.endpoint,
        "-w",
        "1",
        "--app-dir",
        str(ROOT),
        app="tests.integration.cli_app:make_broker",
        cwd=tmp_path,
        env={"PYTHONPATH": ""},
    )
    assert await run(producer, "typed", 5) == "int"


def test_a_bad_app_stops_the_worker_at_once(workers: Start, tmp_path: Path) -> None:
    worker = workers(None, "-w", "2", app="tests.integration.cli_app:nothing", capture=True)
    assert worker.wait(30) == 2  # a config error: no restart loop
    assert "has no attribute 'nothing'" in worker.output


async def test_fs_discover_imports_the_task_modules_it_finds(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(
        "from zq import ZeroMQBroker\nbroker = ZeroMQBroker('tcp://127.0.0.1:5555')\n"
    )
    for module in ("shop/tasks.py", "mail/jobs.py", ".hidden/tasks.py"):
        path = tmp_path / module
        path.parent.mkdir(exist_ok=True)
        name = path.parent.name.strip(".")
        path.write_text(f"from app import broker\n\n@broker.task\nasync def {name}() -> str:\n")
        path.write_text(path.read_text() + f"    return '{name}'\n")
    workers(producer.endpoint, "-w", "1", "-fsd", app="app:broker", cwd=tmp_path)
    workers(
        producer.endpoint, "-w", "1", "-fsd", "-tp", "**/jobs.py", app="app:broker", cwd=tmp_path
    )
    peers = await executors(producer, 2)
    assert sorted(sorted(p.tasks) for p in peers) == [["mail.jobs:mail"], ["shop.tasks:shop"]]
    assert discover(str(tmp_path), ["**/tasks.py"]) == ["shop.tasks"]  # hidden dirs skipped
    kicker = AsyncKicker("mail.jobs:mail", producer, {})
    assert (await (await kicker.kiq()).wait_result(timeout=30)).return_value == "mail"


async def test_workers_default_to_the_cpu_count(producer: ZeroMQBroker, workers: Start) -> None:
    workers(producer.endpoint, app=APP)
    cpus = os.cpu_count() or 1
    assert len(await executors(producer, cpus)) == cpus
    assert len({p.pid for p in (await producer.stats())["executors"].values()}) == cpus


async def test_connect_serves_several_dispatchers(workers: Start, tmp_path: Path) -> None:
    async with (
        ZeroMQBroker("tcp://127.0.0.1:*") as one,
        ZeroMQBroker("tcp://127.0.0.1:*") as two,
    ):
        workers(one.endpoint, "-w", "1", "--connect", two.endpoint, app=APP)
        assert await run(one, "typed", 1) == "int"
        assert await run(two, "typed", 2) == "int"


async def test_queues_route_tasks_and_unserved_queues_wait(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    workers(producer.endpoint, "-w", "1", "--queues", "emails", app=APP)
    (peer,) = await executors(producer, 1)
    assert peer.queues == ["emails"]
    email = await cli_app.send_email.kicker().with_broker(producer).kiq("e1", str(log))
    assert (await email.wait_result(timeout=30)).return_value == "emailed e1"
    report = (
        await cli_app.record.kicker()
        .with_broker(producer)
        .with_labels(queue="reports")
        .kiq("r1", str(log))
    )
    plain = await cli_app.record.kicker().with_broker(producer).kiq("d1", str(log))
    stats = await producer.wait_until(lambda s: s["pending"] == 2)
    assert stats["leased"] == 0, "a task was sent to a worker that does not serve its queue"
    workers(producer.endpoint, "-w", "1", app=APP)  # serves every queue
    results = await gather(report, plain, timeout=30)
    assert [r.return_value for r in results] == ["r1", "d1"]
    assert read_log(log)[0] == {"e1": 1, "r1": 1, "d1": 1}


async def test_concurrency_options_set_each_process_credit(
    producer: ZeroMQBroker, workers: Start
) -> None:
    workers(producer.endpoint, "-w", "1", "--max-async-tasks", "3", "--max-prefetch", "2", app=APP)
    (peer,) = await executors(producer, 1)
    assert peer.credit == 5
    workers(
        producer.endpoint,
        "-w",
        "3",
        "--max-async-tasks",
        "1",
        "--max-async-tasks-jitter",
        "1000",
        app=APP,
    )
    credits = sorted(p.credit for p in await executors(producer, 4))[1:]
    assert all(1 <= c <= 1001 for c in credits)
    assert max(credits) > 1, "no process drew any jitter (chance 1e-9)"


async def test_max_threadpool_threads_bounds_sync_tasks(
    producer: ZeroMQBroker, workers: Start
) -> None:
    workers(producer.endpoint, "-w", "1", "--max-threadpool-threads", "1", app=APP)
    tasks = [
        await AsyncKicker(f"{cli_app.__name__}:sync_where", producer, {}).kiq() for _ in range(8)
    ]
    threads = {r.return_value[1] for r in await gather(*tasks, timeout=30)}
    assert threads == {"zq-sync_0"}


async def test_use_process_pool_runs_sync_tasks_in_other_processes(
    producer: ZeroMQBroker, workers: Start
) -> None:
    args = ("--use-process-pool", "--max-process-pool-processes", "1")
    workers(producer.endpoint, "-w", "1", *args, app=APP)
    (peer,) = await executors(producer, 1)
    pid, thread = await run(producer, "sync_where")
    assert pid != peer.pid and thread == "MainThread"
    assert await run(producer, "typed", "7") == "int"  # arguments cast before the pool


async def test_no_parse_turns_argument_casting_off(producer: ZeroMQBroker, workers: Start) -> None:
    workers(producer.endpoint, "-w", "1", app=APP)
    assert await run(producer, "typed", "5") == "int"
    async with ZeroMQBroker("tcp://127.0.0.1:*") as other:
        workers(other.endpoint, "-w", "1", "--no-parse", app=APP)
        assert await run(other, "typed", "5") == "str"


@pytest.mark.parametrize(
    ("flag", "seen"), [((), "saw-ValueError"), (("--no-propagate-errors",), "clean")]
)
async def test_no_propagate_errors_keeps_exceptions_out_of_dependencies(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path, flag: tuple[str, ...], seen: str
) -> None:
    log = tmp_path / "log"
    workers(producer.endpoint, "-w", "1", *flag, app=APP)
    kicker = AsyncKicker(f"{cli_app.__name__}:fail_with_dependency", producer, {})
    result = await (await kicker.kiq(log_path=str(log))).wait_result(timeout=30)
    assert result.is_err
    assert read_log(log)[0] == {seen: 1}


async def test_a_receiver_subclass_gets_typed_arguments(
    producer: ZeroMQBroker, workers: Start, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    options = ("--receiver", f"{cli_app.__name__}:LoggingReceiver")
    options += ("--receiver_arg", "factor=3", "--receiver_arg", f"log_path={log}")
    workers(producer.endpoint, "-w", "1", *options, app=APP)
    assert await run(producer, "typed", 1) == "int"
    assert read_log(log)[0] == {f"int-3-{cli_app.__name__}:typed": 1}


def test_receiver_arguments_are_checked() -> None:
    assert receiver_kwargs(cli_app.LoggingReceiver, {"factor": "4"}) == {"factor": 4}
    with pytest.raises(AppLoadError, match="not a valid"):
        receiver_kwargs(cli_app.LoggingReceiver, {"factor": "four"})
    with pytest.raises(AppLoadError, match="takes no argument 'colour'"):
        receiver_kwargs(Receiver, {"colour": "red"})


async def test_logging_options(producer: ZeroMQBroker, workers: Start) -> None:
    fmt = ("--log-format", "CUSTOM|%(levelname)s|%(message)s")
    address = producer.endpoint
    runs = [
        ("--log-level", "DEBUG", *fmt),
        ("--log-level", "WARNING", *fmt),
        (*fmt, "--no-configure-logging"),
    ]
    started = [workers(address, "-w", "1", *options, app=APP, capture=True) for options in runs]
    await executors(producer, 3)  # all started: their start-up lines are out
    debug, warning, bare = started
    for worker in started:
        assert worker.stop() == 0
    assert "CUSTOM|INFO|zq worker starting" in debug.output
    assert "CUSTOM|DEBUG|" in debug.output
    assert "CUSTOM|" not in warning.output.replace("CUSTOM|WARNING", "")
    assert "CUSTOM|" not in bare.output  # the app's own logging config (none) is left alone
