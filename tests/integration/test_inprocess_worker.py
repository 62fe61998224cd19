"""Workers inside the application's own process: arun_worker, run_worker, request_shutdown."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from tests.integration import cli_app
from tests.integration.conftest import read_log
from zq import ZeroMQBroker, gather


async def test_arun_worker_in_the_event_loop_of_the_dispatcher(tmp_path: Path) -> None:
    log = tmp_path / "log"
    broker = cli_app.broker
    address, broker.address = broker.address, "tcp://127.0.0.1:*"
    async with broker:
        running = asyncio.get_running_loop().create_task(
            broker.arun_worker(queues=["default"], workers=2)
        )
        await broker.wait_workers(2)
        tasks = [await cli_app.record.kiq(f"t{i}", str(log)) for i in range(100)]
        email = await cli_app.send_email.kiq("e", str(log))  # a queue it does not serve
        results = await gather(*tasks, timeout=30)
        assert [r.return_value for r in results] == [f"t{i}" for i in range(100)]
        stats = await broker.stats()
        assert stats["pending"] == 1 and email.task_id not in {t.task_id for t in tasks}
        # from another thread, as a signal handler or a web framework's shutdown hook would
        threading.Thread(target=broker.request_shutdown).start()
        assert await asyncio.wait_for(running, 30) == 100
    broker.address = address
    assert read_log(log)[0] == {f"t{i}": 1 for i in range(100)}


async def test_run_worker_blocks_a_thread_until_request_shutdown(
    producer: ZeroMQBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where uvloop is not installed (issue 16: run_worker hard-coded it)."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    log = tmp_path / "log"
    worker_broker = ZeroMQBroker(producer.endpoint)  # joins the producer's dispatcher
    worker_broker.register_task(cli_app.record.original_func, cli_app.record.task_name)
    ran: list[int] = []
    thread = threading.Thread(target=lambda: ran.append(worker_broker.run_worker(workers=1)))
    thread.start()
    try:
        await producer.wait_workers(1)
        kicker = cli_app.record.kicker().with_broker(producer)
        tasks = [await kicker.kiq(f"t{i}", str(log)) for i in range(50)]
        assert len(await gather(*tasks, timeout=30)) == 50
    finally:
        worker_broker.request_shutdown()
        await asyncio.to_thread(thread.join, 30)
    assert ran == [50] and not thread.is_alive()
    assert read_log(log)[0] == {f"t{i}": 1 for i in range(50)}
