"""With CURVE, what an observer's key may do: read the dispatcher's state, never act on it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, key_pairs
from zq import ZeroMQBroker
from zq.actors.observer import Observer, ObserverError
from zq.transport.curve import CurveSettings
from zq.transport.sockets import SocketConfig


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Key pairs: dispatcher, observer (observers/), producer (producers/), stranger."""
    return key_pairs(tmp_path, {"observer": "observers", "producer": "producers"})


@pytest.fixture
async def dispatcher(keys: Path) -> AsyncIterator[ZeroMQBroker]:
    async with ZeroMQBroker(
        "tcp://127.0.0.1:*",
        curve_key=str(keys / "dispatcher.key_secret"),
        curve_producers=str(keys / "producers"),
        curve_observers=str(keys / "observers"),
    ) as broker:
        yield broker


def config(keys: Path, key: str) -> SocketConfig:
    settings = CurveSettings(str(keys / f"{key}.key_secret"), str(keys / "dispatcher.key"))
    return SocketConfig(curve=settings.load())


async def zq_status(keys: Path, address: str, key: str) -> tuple[int, str]:
    curve = ["--curve-key", str(keys / f"{key}.key_secret")]
    curve += ["--curve-server-key", str(keys / "dispatcher.key")]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "status", "--connect", address, "--timeout", "2", *curve,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, (out + err).decode()


async def test_an_observer_key_reads_and_is_told_it_may_not_act(
    keys: Path, dispatcher: ZeroMQBroker
) -> None:
    code, out = await zq_status(keys, dispatcher.endpoint, "observer")
    assert code == 0 and "totals: 0 pending" in out
    async with Observer(dispatcher.endpoint, config(keys, "observer")) as observer:
        assert (await observer.ask("status"))["totals"]["pending"] == 0
        with pytest.raises(ObserverError, match=r"allowed as an observer only.*'replay'"):
            await observer.ask("replay", ids=None)
    async with Observer(dispatcher.endpoint, config(keys, "producer")) as producer:
        assert await producer.ask("replay", ids=None) == []  # a producer key may act
    assert (await dispatcher.stats())["stats"].refused == 1


async def test_a_key_not_allowed_sees_nothing(keys: Path, dispatcher: ZeroMQBroker) -> None:
    code, out = await zq_status(keys, dispatcher.endpoint, "stranger")
    assert code == 2 and "no zq dispatcher answered" in out
