"""In-memory sockets: drive the Dispatcher and the Executor with no ZeroMQ, no process, no port.

``FakeSocket`` has the surface of a pyzmq socket that ``zq.transport.channel.Channel`` uses.
A test ``deliver``s messages into it (as a peer would send them) and reads what the actor sent
with ``next_sent`` (which waits on a future the send resolves: no sleeping, no polling).
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections import deque
from typing import Any

import zmq

from zq.actors.dispatcher import Dispatcher
from zq.actors.links import Link
from zq.core import codec
from zq.core.framing import frame
from zq.core.messages import Message


class FakeFrame:
    """What ``recv(copy=False)`` returns: the frame's bytes, and whether more follow."""

    def __init__(self, data: bytes, more: bool) -> None:
        self.bytes = data
        self.more = more


class FakeSocket:
    """A socket in memory: an inbox the test fills, the frames the actor sent."""

    def __init__(self, routed: bool) -> None:
        self.routed = routed  # a ROUTER: frames start with the peer's routing id
        self.inbox: deque[list[bytes]] = deque()
        self._parts: deque[bytes] = deque()
        self._sending: list[bytes] = []  # frames of a message sent with SNDMORE so far
        self.sent: deque[tuple[bytes | None, Message]] = deque()
        self.unroutable: set[bytes] = set()
        self._waiter: asyncio.Future[None] | None = None
        # The descriptor to watch: readable from a delivery until the actor reads (EVENTS, or
        # a recv that finds nothing), as libzmq's is from a command until it processes them.
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self.closed = False

    # --- the test's side ------------------------------------------------------------------

    def deliver(self, message: Message, peer: bytes = b"") -> None:
        """Queue ``message`` as sent by ``peer`` (on a ROUTER) or by the dispatcher."""
        self.inbox.append([peer, *frame(message)] if self.routed else frame(message))
        if not self.closed:
            os.write(self._write_fd, b"!")

    def _processed(self) -> None:
        """What processing libzmq's commands does to the descriptor: it is read."""
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    async def next_sent(self, timeout_s: float = 5.0) -> tuple[bytes | None, Message]:
        """The next message the actor sent: (routing id or None, message)."""
        while not self.sent:
            self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self._waiter, timeout_s)
        return self.sent.popleft()

    async def next_of(self, kind: type, timeout_s: float = 5.0) -> tuple[bytes | None, Any]:
        """The next message of type ``kind`` the actor sent (others are skipped)."""
        while True:
            peer, message = await self.next_sent(timeout_s)
            if type(message) is kind:
                return peer, message

    # --- the actor's side (what Channel calls) ----------------------------------------------

    def getsockopt(self, option: int) -> int:
        if option == zmq.FD:
            return self._read_fd
        if option == zmq.EVENTS:
            self._processed()
            return zmq.POLLIN if self.inbox or self._parts else 0
        if option == zmq.RCVMORE:
            return int(bool(self._parts))
        raise AssertionError(f"unexpected option {option}")

    @property
    def rcvmore(self) -> bool:
        return bool(self._parts)

    def recv(self, flags: int = 0, copy: bool = True) -> Any:
        if self._parts:
            part = self._parts.popleft()
        elif not self.inbox:
            self._processed()
            raise zmq.Again()
        else:
            frames = deque(self.inbox.popleft())
            part = frames.popleft()
            self._parts = frames
        return part if copy else FakeFrame(part, bool(self._parts))

    def send(self, data: bytes, flags: int = 0, **_kw: Any) -> None:
        self._sending.append(data)
        if not flags & zmq.SNDMORE:
            frames, self._sending = self._sending, []
            self._sent(frames)  # (an unroutable peer: refused whole, as libzmq does)

    def _sent(self, frames: list[bytes]) -> None:
        peer: bytes | None = None
        if self.routed:
            peer, frames = frames[0], frames[1:]
            if peer in self.unroutable:
                raise zmq.ZMQError(errno.EHOSTUNREACH)
        self.sent.append((peer, codec.decode(frames[0], frames[1])))
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def disable_monitor(self) -> None:
        pass

    def close(self, linger: int | None = None) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._read_fd)
            os.close(self._write_fd)


class FakeDispatcher(Dispatcher):
    """A Dispatcher whose ROUTER is a ``FakeSocket`` (no gate, no port)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("fake://dispatcher", *args, **kwargs)
        self.socket = FakeSocket(routed=True)

    def _bind(self) -> Any:
        return self.socket

    def poke(self) -> None:
        """Input is waiting: run a batch (what the socket's descriptor would do)."""
        self._wake()


class FakeLink(Link):
    """An executor's link whose DEALER is a ``FakeSocket``; ``sockets`` lists every session's."""

    sockets: list[FakeSocket]

    def _open(self, ctx: Any, config: Any) -> tuple[Any, Any]:
        sock = FakeSocket(routed=False)
        type(self).sockets.append(sock)
        return sock, FakeSocket(routed=False)
