"""Malformed input from a raw pyzmq socket while a normal workload runs (fault case 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio

from tests.faults.conftest import APP, Worker, kick_work, oracle
from zq import ZeroMQBroker, gather
from zq.core.framing import frame
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_EXECUTOR,
    SIGNATURE,
    Credit,
    Hello,
    Refuse,
    ResultMsg,
    Results,
)


def bad_frames() -> list[list[bytes]]:
    """One of each kind of bad input a peer can send."""
    pack = msgspec.msgpack.encode
    return [
        [SIGNATURE, b"\xc1\xc1 not msgpack"],  # undecodable body
        [b"ZQ\x09", pack(["hb"])],  # another protocol version
        [b"HTTP/1.1", b"GET /"],  # not a zq peer at all
        [SIGNATURE, pack(["no-such-kind", 1, 2])],  # unknown message kind
        [SIGNATURE, pack(["results", "not a list", 1])],  # a known kind with wrong types
        [SIGNATURE],  # too few frames
        [SIGNATURE, pack(["hb"]), b"extra"],  # too many frames
        frame(Results([ResultMsg("no-such-task", False, b"", 0.0)], 5)),  # result for nothing
        frame(Hello(ROLE_EXECUTOR, PROTOCOL_VERSION, "x", 1, "h", ["work"], [], -5)),
        frame(Credit(-3)),  # negative credit
        frame(Hello("superuser", PROTOCOL_VERSION, "x", 1, "h")),  # unknown role
    ]


async def test_malformed_frames_are_counted_and_dropped_while_the_workload_completes(
    tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    log = tmp_path / "log"
    limit = 1024 * 1024
    async with ZeroMQBroker(
        "tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0, max_msg_size=limit
    ) as broker:
        workers(broker.endpoint, "-w", "1", app=APP)
        await broker.wait_workers(1)
        tokens = [f"t{i}" for i in range(2000)]
        tasks = await kick_work(broker, tokens, log)
        ctx = zmq.asyncio.Context()
        attacker = ctx.socket(zmq.DEALER)
        attacker.setsockopt(zmq.LINGER, 0)
        attacker.connect(broker.endpoint)
        huge = ctx.socket(zmq.DEALER)
        huge.setsockopt(zmq.LINGER, 0)
        huge.connect(broker.endpoint)
        try:
            for _ in range(20):
                for frames in bad_frames():
                    await attacker.send_multipart(frames)
            await huge.send_multipart([SIGNATURE, b"\0" * (2 * limit)])  # over MAXMSGSIZE
            # The version mismatch is answered with a clear refusal.
            refusals = []
            while len(refusals) < 20:
                signature, body = await asyncio.wait_for(attacker.recv_multipart(), 10)
                message = msgspec.msgpack.decode(body)
                if signature == SIGNATURE and message[0] == "refuse":
                    refusals.append(Refuse(*message[1:]).reason)
            assert any("protocol version 9" in r for r in refusals)
            results = await gather(*tasks, timeout=60)
        finally:
            attacker.close()
            huge.close()
            ctx.term()
        assert [r.return_value for r in results] == tokens
        assert oracle(log, tokens) == ([], {})
        stats = await broker.stats()
        assert broker.dispatcher is not None and broker.dispatcher.alive
        assert stats["stats"].protocol_errors >= 20 * 8
        assert len(stats["executors"]) == 1  # the bad hello never registered an executor
        print(
            f"\nFIGURES case 7: protocol errors {stats['stats'].protocol_errors}; "
            f"2000/2000 complete; refusals read {len(refusals)}"
        )
        # The workload's worker kept its full credit.
        [info] = stats["executors"].values()
        assert stats["leases"] == {next(iter(stats["executors"])): 0} and info.credit > 0
