"""The channel asks libzmq only when input may be waiting, and never misses input for it.

Real ZeroMQ sockets (a PAIR over inproc) on a real event loop, whose clock the channel reads
through ``Clocked`` (virtual time); the socket is wrapped to count the calls that make libzmq
process its commands (``getsockopt(EVENTS)`` and ``recv``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import zmq

from zq.transport.channel import TRUST_QUIET_S, Channel


class Counting:
    """A pyzmq socket whose ``recv`` and ``getsockopt(EVENTS)`` calls are counted."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.calls = 0
        self.failed = 0  # reads that found nothing (an exception each)

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            return self.sock.recv(*args, **kwargs)
        except zmq.Again:
            self.failed += 1
            raise

    def getsockopt(self, option: int) -> Any:
        if option == zmq.EVENTS:
            self.calls += 1
        return self.sock.getsockopt(option)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class Clocked:
    """The running loop, with a clock the test moves (the channel reads ``time()``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loop, name)


def pair(
    name: str, on_ready: Any
) -> tuple[zmq.Context[zmq.Socket[bytes]], Counting, zmq.Socket[bytes], Channel, Clocked]:
    """A channel on one end of an inproc PAIR; the other end is the test's."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    here, there = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    here.bind(f"inproc://{name}")
    there.connect(f"inproc://{name}")
    sock = Counting(here)
    channel = Channel(sock, on_ready)  # type: ignore[arg-type]
    clock = Clocked(asyncio.get_running_loop())
    channel.attach(clock)  # type: ignore[arg-type]
    return ctx, sock, there, channel, clock


async def test_after_an_empty_read_it_waits_for_the_descriptor_and_then_reads() -> None:
    fired = asyncio.Event()
    ctx, sock, there, channel, _ = pair("channel-test", fired.set)
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


async def test_after_a_stall_it_asks_libzmq_before_trusting_an_old_empty_read() -> None:
    """A timer that judges a peer by its silence runs before the loop looks at descriptors."""
    ctx, sock, there, channel, clock = pair("channel-stall", lambda: None)
    try:
        assert channel.recv_batch() == [] and channel.quiet
        there.send(b"heartbeat")  # arrives; its descriptor event is not seen yet (no await)
        clock.now += TRUST_QUIET_S / 2
        asked = sock.calls
        assert channel.recv_batch() == [] and sock.calls == asked  # trusted within the window
        clock.now += 1.0  # the loop stalled for a second
        assert not channel.quiet
        assert channel.recv_batch() == [[b"heartbeat"]]  # read before anything judges
    finally:
        channel.close()
        there.close(linger=0)
        ctx.term()


async def test_a_lone_message_is_read_without_a_failed_read_and_a_burst_whole_in_order() -> None:
    """A round trip's wake-up holds one message: one read and one question, then quiet.

    Asking libzmq whether more waits (``EVENTS``) re-arms the descriptor as a failed read
    would, without the exception; a burst is still read to the end, each message whole.
    """
    fired = asyncio.Event()
    ctx, sock, there, channel, _ = pair("channel-lone", fired.set)
    try:
        assert channel.recv_batch() == []
        fired.clear()
        there.send_multipart([b"sig", b"body"])
        await asyncio.wait_for(fired.wait(), 5)
        assert not channel.quiet
        asked, failed = sock.calls, sock.failed
        assert channel.recv_batch() == [[b"sig", b"body"]]
        assert sock.calls == asked + 3  # its two frames, then the question
        assert sock.failed == failed  # and no read that fails
        assert channel.quiet  # libzmq said nothing more waits: trusted until it fires

        fired.clear()
        for n in range(5):
            there.send_multipart([b"sig", str(n).encode()])
        there.send(b"lone")
        await asyncio.wait_for(fired.wait(), 5)
        burst = [[b"sig", str(n).encode()] for n in range(5)] + [[b"lone"]]
        read: list[list[bytes]] = []
        while len(read) < len(burst):  # (libzmq may hand a burst over in parts)
            read += channel.recv_batch()
            if len(read) < len(burst) and channel.quiet:
                fired.clear()
                await asyncio.wait_for(fired.wait(), 5)
        assert read == burst
    finally:
        channel.close()
        there.close(linger=0)
        ctx.term()
