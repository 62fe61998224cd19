"""Several producer processes on one address: the first binds, the others join it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, Worker, kick, read_log
from zq import ZeroMQBroker, gather
from zq.exceptions import AddressInUseError


async def test_two_joined_producer_processes_each_get_all_their_results(
    producer: ZeroMQBroker, workers: Callable[..., Worker], tmp_path: Path
) -> None:
    log = tmp_path / "executions.log"
    workers(producer.endpoint, "--workers", "2")
    joined = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.producer_script",
            producer.endpoint,
            "1000",
            f"p{n}-",
            str(log),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(2)
    ]
    # The binding process kicks its own tasks at the same time.
    mine = [await kick(producer, "record", f"own{i}", str(log)) for i in range(1000)]
    assert [r.return_value for r in await gather(*mine, timeout=60)] == [
        f"own{i}" for i in range(1000)
    ]
    for process in joined:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0 and out.decode().strip() == "OK 1000"
    executed, _ = read_log(log)
    assert len(executed) == 3000 and set(executed.values()) == {1}


async def test_an_address_held_by_something_else_fails_clearly() -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        address = f"tcp://127.0.0.1:{squatter.getsockname()[1]}"
        broker = ZeroMQBroker(address, join_timeout_s=0.5)
        with pytest.raises(AddressInUseError, match="no zq dispatcher answered"):
            await broker.startup()
