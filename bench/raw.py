"""The transport's own limit, measured the way zq is: the baseline of ``bench/throughput.py``.

    .venv/bin/python bench/raw.py [--tasks 20000] [--runs 3] [--workers 1 2] [--latency 1000]
        [--payload BYTES]

The same shape as zq's path with nothing of zq in it: a producer process (uvloop) binds a
ROUTER; worker processes (uvloop) connect DEALERs and say hello; the producer hands each
"task" (a msgspec struct: id, name, payload) to a worker with room (``--window`` in flight per
worker, zq's default slots), one message per frame; a worker decodes it, encodes a result and
sends it back at once; the producer resolves that task's future. Sockets are drained on each
wake-up. Rates: ``--tasks`` kicked one after another (each "kick" returns once the task is
queued, as ``kiq()`` does), then all results awaited; latency: single round trips in sequence.

``measure(...)`` is what ``bench/throughput.py`` calls to print zq's figures as a ratio of
these, taken in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgspec
import uvloop
import zmq

ROOT = Path(__file__).resolve().parents[1]


class Task(msgspec.Struct, array_like=True):
    """What the producer sends: as zq's task, its id, name and encoded arguments."""

    task_id: str
    name: str
    payload: bytes


class Result(msgspec.Struct, array_like=True):
    """What a worker sends back."""

    task_id: str
    payload: bytes


HELLO = b"hello"
NOBLOCK, MORE = zmq.NOBLOCK, zmq.NOBLOCK | zmq.SNDMORE


def _drain(sock: zmq.Socket[bytes], handle: Any) -> None:
    """Every message waiting on ``sock``, to ``handle`` (the socket's FD is edge-triggered)."""
    recv = sock.recv
    try:
        while True:
            handle(recv(NOBLOCK))
    except zmq.Again:
        pass


def _drain_router(sock: zmq.Socket[bytes], handle: Any) -> None:
    """``_drain`` for a ROUTER: each message is the peer's identity, then the body."""
    recv = sock.recv
    try:
        while True:
            peer = recv(NOBLOCK)
            handle(peer, recv(NOBLOCK))
    except zmq.Again:
        pass


async def serve(address: str) -> None:
    """A worker: answer each task with a result, until the producer says stop (b"")."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    decode, encode = msgspec.msgpack.Decoder(Task).decode, msgspec.msgpack.Encoder().encode
    done = asyncio.get_running_loop().create_future()

    send = sock.send

    def handle(body: bytes) -> None:
        if not body:
            done.set_result(None)
            return
        task = decode(body)
        send(encode(Result(task.task_id, b"\x00")), NOBLOCK)

    sock.send(HELLO)
    loop = asyncio.get_running_loop()
    loop.add_reader(sock.getsockopt(zmq.FD), _drain, sock, handle)
    _drain(sock, handle)
    await done
    loop.remove_reader(sock.getsockopt(zmq.FD))
    sock.close()
    ctx.term()


class Producer:
    """The ROUTER side: hands tasks to workers within their window, resolves results."""

    def __init__(self, window: int, payload: int = 0) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.window = window
        self.payload = os.urandom(payload) if payload else b"\x90"  # the task's arguments
        self.room: dict[bytes, int] = {}  # per worker
        self.ready: deque[bytes] = deque()  # workers with room, in turn
        self.queued: deque[bytes] = deque()  # encoded tasks waiting for room
        self.waiting: dict[str, asyncio.Future[bytes]] = {}
        self.joined = asyncio.Event()
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(Result).decode
        self._ids = 0
        self._flushing = False
        loop = asyncio.get_running_loop()
        loop.add_reader(self.sock.getsockopt(zmq.FD), _drain_router, self.sock, self._handle)

    def kick(self) -> asyncio.Future[bytes]:
        """Queue one task; its future resolves with the result's payload."""
        self._ids += 1
        task_id = f"{self._ids:032x}"
        future = asyncio.get_running_loop().create_future()
        self.waiting[task_id] = future
        self.queued.append(self._encode(Task(task_id, "bench.tasks:noop", self.payload)))
        if not self._flushing:  # once per loop turn, as an actor's mailbox is
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flushing = False
        self._send()
        _drain_router(self.sock, self._handle)  # sending may leave input the edge trigger hid

    def _send(self) -> None:
        send = self.sock.send
        while self.queued and self.ready:
            worker = self.ready[0]
            send(worker, MORE)
            send(self.queued.popleft(), NOBLOCK)
            self.room[worker] -= 1
            if self.room[worker] == 0:
                self.ready.popleft()
            else:
                self.ready.rotate(-1)

    def _handle(self, worker: bytes, body: bytes) -> None:
        if body == HELLO:
            self.room[worker] = self.window
            self.ready.append(worker)
            self.joined.set()
        else:
            result = self._decode(body)
            self.waiting.pop(result.task_id).set_result(result.payload)
            if self.room[worker] == 0:
                self.ready.append(worker)
            self.room[worker] += 1
        if self.queued:
            self._send()

    def close(self) -> None:
        for worker in self.room:
            self.sock.send_multipart([worker, b""])
        asyncio.get_running_loop().remove_reader(self.sock.getsockopt(zmq.FD))
        self.sock.close()
        self.ctx.term()


async def measure(
    workers: int, tasks: int, runs: int, latency_n: int, window: int = 100, payload: int = 0
) -> dict[str, float]:
    """Rates and round trips of the raw transport with ``workers`` worker processes."""
    producer = Producer(window, payload)
    procs = [
        subprocess.Popen([sys.executable, str(Path(__file__)), "--serve", producer.address])
        for _ in range(workers)
    ]
    try:
        while len(producer.room) < workers:
            producer.joined.clear()
            await asyncio.wait_for(producer.joined.wait(), 30)
        await asyncio.gather(*[producer.kick() for _ in range(min(2000, tasks))])  # warm-up
        rates = []
        for _ in range(runs):
            start = time.perf_counter()
            await asyncio.gather(*[producer.kick() for _ in range(tasks)])
            rates.append(tasks / (time.perf_counter() - start))
        trips = []
        for _ in range(latency_n):
            start = time.perf_counter()
            await producer.kick()
            trips.append((time.perf_counter() - start) * 1000)
        trips.sort()
    finally:
        producer.close()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 10)
    return {
        "rate": statistics.median(rates),
        "p50_ms": statistics.median(trips) if trips else 0.0,
        "p99_ms": trips[int(len(trips) * 0.99)] if trips else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", metavar="ADDRESS", help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--latency", type=int, default=1000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--payload", type=int, default=0, metavar="BYTES", help="each task's size")
    args = parser.parse_args()
    if args.serve:
        uvloop.run(serve(args.serve))
        return
    print("| workers | raw tasks/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for workers in args.workers:
        found = uvloop.run(
            measure(workers, args.tasks, args.runs, args.latency, args.window, args.payload)
        )
        print(
            f"| {workers} | {found['rate']:,.0f} | {found['p50_ms']:.3f} | {found['p99_ms']:.3f} |"
        )


if __name__ == "__main__":
    main()
