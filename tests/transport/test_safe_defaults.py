"""Safe by default: loopback binds, no pickle unless chosen, nothing imported for a peer."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from zq import ZeroMQBroker
from zq.core.messages import TaskMsg
from zq.core.remote_errors import rebuild
from zq.exceptions import UnknownTaskError
from zq.receiver import Receiver
from zq.serializers import PickleSerializer
from zq.transport.curve import generate


@pytest.mark.parametrize(
    ("address", "curve", "warned"),
    [
        ("tcp://127.0.0.1:*", False, False),
        ("tcp://0.0.0.0:*", False, True),
        ("tcp://0.0.0.0:*", True, False),
    ],
)
async def test_a_network_bind_without_curve_is_warned_about(
    address: str, curve: bool, warned: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = str(generate(tmp_path, "d")[1]) if curve else None
    broker = ZeroMQBroker(address, curve_key=key)
    with caplog.at_level(logging.WARNING, "zq.dispatcher"):
        async with broker:
            pass
    assert ("CURVE is off" in caplog.text) is warned


def test_the_pickle_serializer_warns_when_chosen(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "zq.serializers"):
        PickleSerializer()
    assert "any peer that can send tasks can run code here" in caplog.text


@pytest.mark.parametrize("name", ["json.tool:main", "antigravity", "os:system"])
async def test_a_task_name_from_the_wire_is_only_looked_up_in_the_registry(name: str) -> None:
    module = name.partition(":")[0]
    before = module in sys.modules
    receiver = Receiver(ZeroMQBroker())
    result = await receiver.run(TaskMsg("t1", name, b"\x92\x90\x80"))
    assert result.is_err and result.error is not None
    assert isinstance(rebuild(result.error), UnknownTaskError)
    assert (module in sys.modules) is before  # nothing was imported on the peer's word


async def test_in_process_workers_of_a_curve_dispatcher_use_its_own_key(tmp_path: Path) -> None:
    _, secret = generate(tmp_path, "dispatcher")
    broker = ZeroMQBroker("tcp://127.0.0.1:*", curve_key=str(secret))

    @broker.task
    async def double(x: int) -> int:
        return 2 * x

    async with broker:
        running = asyncio.ensure_future(broker.arun_worker(workers=1))
        await broker.wait_workers(1)
        assert (await (await double.kiq(21)).wait_result(timeout=30)).return_value == 42
        broker.request_shutdown()
        assert await asyncio.wait_for(running, 30) == 1
