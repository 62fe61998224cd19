"""Size and frame limits: batches split under max_msg_size, too-large tasks and results refused."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import zmq

from tests.actors.fakes import FakeSocket
from zq import ZeroMQBroker
from zq.core import codec
from zq.core.framing import MAX_FRAMES, frames_within, parse
from zq.core.messages import (
    Assign,
    Copy,
    Drop,
    Forward,
    Items,
    Resubmit,
    ResultMsg,
    Results,
    TaskMsg,
)
from zq.exceptions import MessageTooLargeError, RemoteProtocolError, ResultTooLargeError
from zq.transport.channel import Channel

LIMIT = 64 * 1024


def tasks(count: int, size: int) -> list[TaskMsg]:
    return [TaskMsg(f"t{i}", "name", bytes(size)) for i in range(count)]


def test_a_batch_over_the_limit_goes_as_several_under_it_in_order() -> None:
    batch = tasks(40, 10_000)  # ~400 kB in all
    parts = [codec.decode(*frames) for frames in frames_within(Assign(batch), LIMIT)]
    assert all(len(codec.encode(p)) <= LIMIT for p in parts) and len(parts) > 6
    assert [t for p in parts for t in p.tasks] == batch  # type: ignore[union-attr]


def test_results_keep_their_credit_once_and_forwards_split_too() -> None:
    results = [ResultMsg(f"t{i}", False, bytes(10_000), 0.0) for i in range(20)]
    parts = [codec.decode(*f) for f in frames_within(Results(results, credit=20), LIMIT)]
    assert sum(p.credit for p in parts) == 20  # type: ignore[union-attr]
    assert [r for p in parts for r in p.results] == results  # type: ignore[union-attr]
    progress = [(f"t{i}", bytes(10_000)) for i in range(20)]
    forwards = frames_within(Forward(results, progress), LIMIT)
    decoded = [codec.decode(*f) for f in forwards]
    assert [r for p in decoded for r in p.results] == results  # type: ignore[union-attr]
    assert [tuple(x) for p in decoded for x in p.progress] == progress  # type: ignore[union-attr]


def test_streamed_items_split_and_stay_ahead_of_the_results_they_travel_with() -> None:
    items = [(f"t{i % 3}", i, bytes(10_000)) for i in range(30)]
    parts: list[Any] = [codec.decode(*f) for f in frames_within(Items(items), LIMIT)]
    assert len(parts) > 4
    assert [tuple(x) for p in parts for x in p.items] == items
    results = [ResultMsg(f"t{i}", False, bytes(10_000), 0.0) for i in range(10)]
    split = frames_within(Forward(results, [], ["gone"], items), LIMIT)
    forwards: list[Any] = [codec.decode(*f) for f in split]
    arrived = [  # what a reader's process applies, in order (items before results per part)
        kind for p in forwards for kind in ["item"] * len(p.items) + ["result"] * len(p.results)
    ]
    assert arrived == ["item"] * 30 + ["result"] * 10  # a stream never ends before its items
    assert [e for p in forwards for e in p.expired] == ["gone"]


def test_a_standby_copy_splits_with_its_ack_number_on_the_last_part_only() -> None:
    batch = tasks(40, 10_000)
    parts = [codec.decode(*f) for f in frames_within(Copy(7, batch, fresh=True), LIMIT)]
    assert all(isinstance(p, Copy) for p in parts) and len(parts) > 6
    assert [p.seq for p in parts] == [0] * (len(parts) - 1) + [7]  # type: ignore[union-attr]
    assert [p.fresh for p in parts] == [True] + [False] * (len(parts) - 1)  # type: ignore[union-attr]
    assert [t for p in parts for t in p.tasks] == batch  # type: ignore[union-attr]
    again = [codec.decode(*f) for f in frames_within(Resubmit(batch), LIMIT)]
    assert [t for p in again for t in p.tasks] == batch  # type: ignore[union-attr]
    ids = [f"{i:030d}" for i in range(5000)]
    dropped = [codec.decode(*f) for f in frames_within(Drop(ids), 32 * 1024)]
    assert len(dropped) > 1 and [i for p in dropped for i in p.task_ids] == ids  # type: ignore[union-attr]


def test_a_lone_item_over_the_limit_is_sent_whole_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = Assign(tasks(1, 2 * LIMIT))
    assert len(frames_within(big, LIMIT)) == 1  # framing is pure: the channel logs
    sock = FakeSocket(routed=False)
    with caplog.at_level(logging.ERROR, "zq.transport"):
        assert Channel(sock, lambda: None).send_message(big, LIMIT)  # type: ignore[arg-type]
    assert len(sock.sent) == 1 and "over the 65536-byte limit" in caplog.text
    sock.close()


def test_a_message_with_too_many_frames_is_cut_short_and_fails_to_parse() -> None:
    ctx = zmq.Context()
    server = ctx.socket(zmq.ROUTER)
    port = server.bind_to_random_port("tcp://127.0.0.1")
    client = ctx.socket(zmq.DEALER)
    client.connect(f"tcp://127.0.0.1:{port}")
    try:
        client.send_multipart([b"x"] * 1000)
        assert server.poll(10_000)
        batch = Channel(server, lambda: None).recv_batch()
        assert len(batch) == 1 and len(batch[0]) == MAX_FRAMES + 1
        with pytest.raises(RemoteProtocolError, match="expected 3 frames"):
            parse(batch[0], routed=True)
    finally:
        client.close(linger=0)
        server.close(linger=0)
        ctx.term()


async def test_kiq_of_a_task_over_max_msg_size_raises_before_sending() -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", max_msg_size=LIMIT)

    @broker.task
    async def take(data: bytes) -> int:
        return len(data)

    async with broker:
        with pytest.raises(MessageTooLargeError, match="over max_msg_size"):
            await take.kiq(bytes(LIMIT))
        assert (await broker.stats())["stats"].submitted == 0


async def test_results_over_the_limit_fail_the_task_and_batches_of_big_ones_still_flow() -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", max_msg_size=LIMIT)

    @broker.task
    async def echo(data: bytes) -> bytes:
        return data

    async with broker:
        running = asyncio.ensure_future(broker.arun_worker(workers=1))
        await broker.wait_workers(1)
        big = await echo.kiq(bytes(LIMIT - 2000))  # fits as a task, not as a result
        many = [await echo.kiq(bytes(20_000)) for _ in range(30)]  # 600 kB, in batches
        result = await big.wait_result(timeout=30)
        assert result.is_err and isinstance(result.error, ResultTooLargeError)
        assert "max_msg_size" in str(result.error)
        for task in many:
            assert (await task.wait_result(timeout=30)).return_value == bytes(20_000)
        broker.request_shutdown()
        assert await asyncio.wait_for(running, 30) == 31
