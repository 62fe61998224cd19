"""Findings of the hostile run (issue 15), one test each, with real processes where they used them.

Each test failed before its fix; its docstring says what happened then.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
import zmq.asyncio

from tests.faults import app as fault_app
from tests.faults.conftest import APP, Worker, kick_work, oracle, read_log
from zq import ZeroMQBroker, gather
from zq.core.messages import SIGNATURE
from zq.exceptions import ActorDeadError, QueueFullError, ResultExpiredError
from zq.task import AsyncTaskiqTask


def deep_submit(depth: int) -> list[bytes]:
    """A ``Submit`` whose one task's labels nest ``depth`` levels deep."""
    nested = msgspec.Raw(b"\x91" * depth + b"\xc0")
    body = msgspec.msgpack.encode(["submit", [["deep", "work", b"", {"x": nested}]]])
    return [SIGNATURE, body]


async def test_finding_1_a_deeply_nested_message_is_dropped_and_the_dispatcher_lives(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Was: msgspec's RecursionError escaped poll_io and the dispatcher actor died for good."""
    log = tmp_path / "log"
    async with ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        await broker.wait_workers(1)
        ctx = zmq.asyncio.Context()
        attacker = ctx.socket(zmq.DEALER)
        attacker.setsockopt(zmq.LINGER, 0)
        attacker.connect(broker.endpoint)
        try:
            for depth in (200_000, 2_000, 40):
                await attacker.send_multipart(deep_submit(depth))
            tokens = [f"t{i}" for i in range(200)]
            results = await gather(*await kick_work(broker, tokens, log), timeout=60)
            stats = await broker.wait_until(lambda s: s["stats"].protocol_errors >= 3)
        finally:
            attacker.close()
            ctx.term()
        assert broker.dispatcher is not None and broker.dispatcher.alive
        assert [r.return_value for r in results] == tokens
        assert oracle(log, tokens) == ([], {})
        assert stats["pending"] == 0 and stats["stats"].submitted == len(tokens)


async def test_finding_1_kiq_waiting_for_room_fails_when_the_dispatcher_stops() -> None:
    """Was: kiq() calls waiting for admission hung forever once the dispatcher was gone."""
    async with ZeroMQBroker("tcp://127.0.0.1:*", max_pending=1) as broker:
        kicker = fault_app.work.kicker().with_broker(broker)
        await kicker.kiq("first", "/dev/null")  # fills the queue: no worker takes it
        waiting = asyncio.ensure_future(kicker.kiq("second", "/dev/null"))
        # A round trip through the dispatcher: the second kiq(), scheduled first, is in line
        # for room by the time it returns.
        await broker.wait_until(lambda _s: broker.dispatcher is not None)
        assert broker.dispatcher is not None
        assert broker.dispatcher.admission.queued and not waiting.done()
        await broker.dispatcher.stop()
        with pytest.raises(ActorDeadError, match="dispatcher"):
            await asyncio.wait_for(waiting, 5)
        with pytest.raises(ActorDeadError):
            await kicker.kiq("third", "/dev/null")


async def test_finding_3_results_evicted_before_they_are_read_fail_their_waiters(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Was: kick all, then gather, past max_results: the oldest results were evicted and
    gather() / wait_result() never returned. Now their waiters get ResultExpiredError, in
    this process and in a joined one; results still kept are read as usual."""
    log = tmp_path / "log"
    address = "tcp://127.0.0.1:*"
    async with ZeroMQBroker(address, max_results=100, heartbeat_s=0.2) as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        tokens = [f"t{i}" for i in range(1000)]
        tasks = await kick_work(broker, tokens, log)
        await broker.wait_until(lambda s: s["stats"].completed == len(tokens))
        newest = await gather(*tasks[-100:], timeout=10)  # the last 100 are kept
        assert [r.return_value for r in newest] == tokens[-100:]
        with pytest.raises(ResultExpiredError, match="max_results"):
            await gather(*tasks, timeout=10)
        with pytest.raises(ResultExpiredError, match=tasks[0].task_id):
            await tasks[0].wait_result(timeout=10)
        by_id = AsyncTaskiqTask(tasks[1].task_id, broker.result_backend)
        with pytest.raises(ResultExpiredError):
            await by_id.wait_result(timeout=10)
        async with ZeroMQBroker(broker.endpoint, heartbeat_s=0.2) as joined:
            assert joined.dispatcher is None
            elsewhere = AsyncTaskiqTask(tasks[2].task_id, joined.result_backend)
            with pytest.raises(ResultExpiredError):
                await elsewhere.wait_result(timeout=10)
            assert (await tasks[-1].wait_result(timeout=10)).return_value == tokens[-1]


async def test_finding_4_max_pending_bounds_concurrent_kicks_exactly() -> None:
    """Was: 20,000 concurrent kiq() with max_pending=1000 gave 20,000 pending, no error."""
    async with ZeroMQBroker("tcp://127.0.0.1:*", max_pending=1000, kiq_timeout_s=0.5) as broker:
        kicker = fault_app.work.kicker().with_broker(broker)
        outcomes = await asyncio.gather(
            *(kicker.kiq(f"t{i}", "/dev/null") for i in range(20_000)), return_exceptions=True
        )
        stats = await broker.stats()
    refused = [o for o in outcomes if isinstance(o, QueueFullError)]
    assert stats["pending"] == 1000
    assert len(refused) == 19_000
    assert len(outcomes) - len(refused) == 1000


async def test_finding_4_remote_submits_get_backpressure_and_nothing_is_lost(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Was: Submits from joined producers were never counted: the bound did not hold."""
    log = tmp_path / "log"
    async with ZeroMQBroker("tcp://127.0.0.1:*", max_pending=100, heartbeat_s=0.2) as binder:
        async with ZeroMQBroker(binder.endpoint, heartbeat_s=0.2) as joined:
            assert joined.dispatcher is None
            tokens = [f"t{i}" for i in range(1000)]
            tasks = await kick_work(joined, tokens, log)
            stats = await binder.wait_until(lambda s: s["stats"].busy > 0)
            assert stats["pending"] == 100  # exactly the bound, the rest held by the joiner
            workers(binder.endpoint, "-w", "1", app=APP)
            results = await gather(*tasks, timeout=60)
        assert [r.return_value for r in results] == tokens
        assert oracle(log, tokens) == ([], {})


async def test_finding_7_poison_tasks_die_alone_and_the_good_ones_complete(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Was: 8 poison tasks + 50 good on -w 2: the host gave up after 21 deaths, 0 good ran."""
    log = tmp_path / "log"
    async with ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0) as broker:
        host = workers(broker.endpoint, "-w", "2", app=APP, capture=True)
        await broker.wait_workers(2)
        # At the default delivery limit (5), 8 poison tasks end up to 40 processes: over the
        # host's restart intensity (20 within 60 s), which used to make it give up.
        poison = fault_app.poison.kicker().with_broker(broker).with_labels(max_deliveries=5)
        poisons = [await poison.kiq(str(log)) for _ in range(8)]
        tokens = [f"t{i}" for i in range(50)]
        good = await kick_work(broker, tokens, log)
        results = await gather(*good, timeout=60)
        assert [r.return_value for r in results] == tokens
        for handle in poisons:
            result = await handle.wait_result(timeout=60)
            assert type(result.error).__name__ == "DeliveryLimitError"
        assert host.process.poll() is None  # the host did not give up
        executed, _ = read_log(log)
        assert 20 < executed["poison"] <= 8 * 5  # past the intensity; each at most its limit
    assert host.stop() == 0
    assert "giving up" not in host.output


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("127.0.0.1:5555", "did you mean tcp://127.0.0.1:5555"),
        ("http://127.0.0.1:5555", "not http"),
        ("tcp://127.0.0.1", "has no port"),
        ("tcp://127.0.0.1:99999", "from 1 to 65535"),
    ],
)
def test_finding_10_a_bad_connect_address_exits_2_with_the_fix(address: str, says: str) -> None:
    """Was: ``--connect 127.0.0.1:5555`` (no scheme) or ``http://…`` printed nothing for 25 s."""
    done = subprocess.run(
        [sys.executable, "-m", "zq", "worker", APP, "--connect", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert says in done.stderr
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        ZeroMQBroker(address if "://" not in address else "http://x:1")


async def test_finding_10_a_worker_says_when_nothing_answers_and_what_it_found(
    workers: Callable[..., Worker],
) -> None:
    """Was: an address where nothing (or no zq peer) listens was reported as a CURVE failure."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)  # not ZeroMQ
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        worker = workers(f"tcp://127.0.0.1:{port}", "-w", "1", app=APP, capture=True)
        await worker.expect("what listens there is not a zq dispatcher (another program")
        await worker.expect(f"no zq dispatcher answers at tcp://127.0.0.1:{port}")
    worker.stop()
    assert "CURVE" not in worker.output.split("no zq dispatcher answers")[0].replace(
        "a dispatcher with CURVE on", ""
    )


async def test_finding_10_a_plain_dispatcher_does_not_blame_curve_for_a_dropped_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Was: a worker that simply stopped mid-handshake was logged as a CURVE key problem."""
    caplog.set_level(logging.INFO, logger="zq")
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        host, port = broker.endpoint.removeprefix("tcp://").rsplit(":", 1)
        for _ in range(3):
            _reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03")  # a greeting, cut short
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await broker.wait_until(lambda s: s["stats"].handshakes_failed >= 1)
    text = caplog.text
    assert "ended before its ZeroMQ handshake" in text
    assert "CURVE" not in text


def silent_dealers(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, count: int) -> list[Any]:
    """ZeroMQ clients that complete the handshake and then say nothing (and never reconnect)."""
    socks = []
    for _ in range(count):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, -1)
        sock.connect(endpoint)
        socks.append(sock)
    return socks


async def test_finding_8_connections_that_never_say_hello_are_closed_and_bounded(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    """Was: connections that finished the handshake and said nothing were kept forever, up to
    the descriptor limit, and then a new worker could not join."""
    log = tmp_path / "log"
    address = "tcp://127.0.0.1:*"
    async with ZeroMQBroker(
        address, heartbeat_s=0.2, handshake_timeout_s=1.0, max_connections=40
    ) as broker:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        socks = silent_dealers(ctx, broker.endpoint, 60)
        try:
            # 20 over the bound are closed at once; the other 40 after the hello timeout.
            stats = await broker.wait_until(lambda s: s["stats"].connections_closed >= 60)
            assert stats["stats"].connections_closed == 60
            workers(broker.endpoint, "-w", "1", app=APP)
            tokens = [f"t{i}" for i in range(100)]
            results = await gather(*await kick_work(broker, tokens, log), timeout=60)
            assert [r.return_value for r in results] == tokens
            stats = await broker.stats()
            assert stats["stats"].connections_closed == 60  # the worker's was never cut
        finally:
            for sock in socks:
                sock.close()
            ctx.term()


async def test_a_worker_of_another_protocol_version_exits_2_with_the_reason(
    workers: Callable[..., Worker],
) -> None:
    """Was: it logged a protocol error five times a second, forever, and never joined."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    old = ctx.socket(zmq.ROUTER)  # a dispatcher of another zq version
    old.setsockopt(zmq.LINGER, 0)
    port = old.bind_to_random_port("tcp://127.0.0.1")
    try:
        worker = workers(f"tcp://127.0.0.1:{port}", "-w", "1", app=APP, capture=True)
        loop = asyncio.get_running_loop()
        peer = (await loop.run_in_executor(None, old.recv_multipart))[0]  # its Hello
        old.send_multipart([peer, b"ZQ\x01", msgspec.msgpack.encode(["hb"])])
        assert await asyncio.to_thread(worker.wait, 30) == 2
    finally:
        old.close()
        ctx.term()
    assert "speaks zq protocol version 1" in worker.output
