"""The channel asks libzmq only when input may be waiting, and never misses input for it.

Real ZeroMQ sockets (a PAIR over inproc) on a real event loop; the socket is wrapped to count
the calls that make libzmq process its commands (``getsockopt(EVENTS)`` and ``recv``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import zmq

from zq.transport.channel import Channel


class Counting:
    """A pyzmq socket whose ``recv`` and ``getsockopt(EVENTS)`` calls are counted."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.calls = 0

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.sock.recv(*args, **kwargs)

    def getsockopt(self, option: int) -> Any:
        if option == zmq.EVENTS:
            self.calls += 1
        return self.sock.getsockopt(option)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


async def test_after_an_empty_read_it_waits_for_the_descriptor_and_then_reads() -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    here, there = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    here.bind("inproc://channel-test")
    there.connect("inproc://channel-test")
    fired = asyncio.Event()
    sock = Counting(here)
    channel = Channel(sock, fired.set)  # type: ignore[arg-type]
    channel.attach(asyncio.get_running_loop())
    try:
        assert channel.recv_batch() == []  # nothing yet: libzmq says so once
        asked = sock.calls
        assert channel.recv_batch() == [] and not channel.readable()
        assert sock.calls == asked  # and is not asked again while nothing can have arrived

        there.send(b"one")
        fired.clear()
        await asyncio.wait_for(fired.wait(), 5)  # the descriptor fires for it
        assert channel.readable()
        assert channel.recv_batch() == [[b"one"]]

        channel.send([b"reply"])  # a send may process commands: the next check asks again
        asked = sock.calls
        assert not channel.readable()
        assert sock.calls == asked + 1
        assert there.recv() == b"reply"
    finally:
        channel.close()
        there.close(linger=0)
        ctx.term()
