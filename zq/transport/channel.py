"""A socket driven by the event loop: read in batches on each wake-up, write without blocking.

A ZeroMQ socket's file descriptor is edge-triggered and also flips on sends, so after every
wake-up the owner drains with NOBLOCK until EAGAIN, and checks ``readable()`` again before it
waits: one ``await`` per message costs more than the network (DESIGN §6).

Each of those checks is a system call or two (libzmq polls its mailbox and checks its pid), and
on a virtual machine that is most of what a message costs. So a channel knows when it cannot
have input: after a read that ended in EAGAIN, libzmq has processed its commands and marked its
pipes asleep, so new input signals the descriptor again; until the descriptor fires or a call
of ours (a send) may have processed commands, ``recv_batch`` and ``readable`` answer without
asking libzmq. That knowledge is trusted for ``TRUST_QUIET_S`` of loop time only: after a stall
(a blocking call in the app, a frozen process) the loop runs its due timers before it looks at
the descriptors, and a timer may judge a peer by its silence (liveness): the first check after
the stall asks libzmq for real, so what arrived meanwhile is read first.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import deque
from collections.abc import Callable

import zmq
from zmq.backend import Socket as _BackendSocket

from zq.core.framing import MAX_FRAMES, Frames, frames_within
from zq.core.log_rate import worth_logging
from zq.core.messages import Message
from zq.exceptions import PeerRefusedError, ProtocolVersionError, RemoteProtocolError

log = logging.getLogger("zq.transport")
EVENTS, POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: an enum costs a lookup a use
_NOBLOCK, _MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)
_COPY_BELOW = zmq.COPY_THRESHOLD  # pyzmq copies a frame under this even when told not to
TRUST_QUIET_S = 0.05  # how long "libzmq holds nothing" is believed (see the module's docstring)


class Channel:
    """One socket owned by one actor; ``on_ready`` is called when it may have input."""

    def __init__(self, sock: zmq.Socket[bytes], on_ready: Callable[[], None]) -> None:
        self.sock = sock
        self._on_ready = on_ready
        fd = sock.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        self._fd = fd
        # pyzmq's own send, past ``zmq.Socket.send``: that wrapper only checks two DRAFT options
        # (routing_id, group) we never pass and forwards by keyword, ~200 ns a frame
        # (docs/performance.md, "The sixth round"); a socket of another class (a test's) its own
        plain = getattr(type(sock), "send", None) is zmq.Socket.send
        self._send: Callable[..., object] = (
            _BackendSocket.send.__get__(sock) if plain else sock.send
        )
        self._outbox: deque[Frames] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        # False only while libzmq is known to hold nothing for us (see the module's docstring)
        self._maybe = True
        self._quiet_at = 0.0  # the loop time at which it was last found to hold nothing

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start watching the socket on ``loop``."""
        self._loop = loop
        loop.add_reader(self._fd, self._fired)

    @property
    def quiet(self) -> bool:
        """Whether the socket is known to hold no input (``recv_batch`` would read nothing)."""
        loop = self._loop
        return not self._maybe and loop is not None and loop.time() - self._quiet_at < TRUST_QUIET_S

    def _found_quiet(self) -> None:
        self._maybe = False  # (libzmq processed its commands: new input fires the descriptor)
        if self._loop is not None:
            self._quiet_at = self._loop.time()

    def _fired(self) -> None:
        self._maybe = True
        self._on_ready()

    def close(self, linger_ms: int = 0) -> None:
        """Stop watching and close the socket.

        With the default LINGER 0 it never blocks and drops what is unsent; ``linger_ms``
        lets the I/O thread go on sending that for so long (the caller does not wait).
        """
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self._loop = None
        self.sock.close(linger=linger_ms)

    def readable(self) -> bool:
        """Whether a message is waiting (unless none can be: see the module's docstring).

        Asking libzmq also re-arms the edge-triggered descriptor.
        """
        if self.quiet:
            return False
        events = self.sock.getsockopt(EVENTS)
        assert isinstance(events, int)
        if events & POLLIN:
            return True
        self._found_quiet()
        return False

    def recv_batch(self, limit: int = 1000) -> list[Frames]:
        """Up to ``limit`` messages that are already here, without waiting.

        A message keeps at most ``MAX_FRAMES + 1`` frames (the rest are read and dropped), so
        that it fails to parse instead of costing memory.
        """
        out: list[Frames] = []
        if self.quiet:
            return out
        sock = self.sock
        recv, whole = sock.recv, self._whole
        try:
            out.append(whole(recv(_NOBLOCK, copy=False)))
            # One message is the common wake-up (a round trip's): asking whether another
            # waits costs a third of the failed read that would say so (an exception), and
            # the message is handled (its answer sent) that much sooner.
            if not int(sock.getsockopt(EVENTS)) & POLLIN:
                self._found_quiet()
                return out
            for _ in range(limit - 1):
                out.append(whole(recv(_NOBLOCK, copy=False)))
        except zmq.Again:
            self._found_quiet()
        return out

    def recv_batch_with_meta(
        self, *, users: bool, limit: int = 1000
    ) -> tuple[list[Frames], list[str], list[int]]:
        """``recv_batch``, with what libzmq knows of each message's connection.

        The ZAP User-Id (CURVE: the role of the sender's key) and the connection's file
        descriptor (to close one that never says hello). Costs a frame object per message, so
        the dispatcher uses it only while it needs either.
        """
        out: list[Frames] = []
        found: list[str] = []  # only a ZAP handler (CURVE) gives messages a User-Id
        fds: list[int] = []
        if self.quiet:
            return out, found, fds
        recv, whole = self.sock.recv, self._whole
        try:
            for _ in range(limit):
                first = recv(_NOBLOCK, copy=False)
                out.append(whole(first))
                found.append(str(first.get("User-Id") or "") if users else "")
                fds.append(int(first.get(zmq.SRCFD)))
        except zmq.Again:
            self._found_quiet()
        return out, found, fds

    def _whole(self, first: zmq.Frame) -> Frames:
        """A multipart message from its ``first`` frame, keeping ``MAX_FRAMES + 1`` frames.

        The rest is already here (libzmq delivers a message whole). Frames say whether more
        follow (``getsockopt(RCVMORE)`` costs an enum lookup in pyzmq: ~1 us a frame more).
        """
        frames = [first.bytes]
        part, recv = first, self.sock.recv
        while part.more:
            part = recv(_NOBLOCK, copy=False)
            if len(frames) <= MAX_FRAMES:
                frames.append(part.bytes)
        return frames

    def send(self, frames: Frames, *, queue: bool = True) -> bool:
        """Send now, or queue behind earlier sends if the pipe is full or not connected.

        With ``queue=False`` a message that cannot go now is dropped instead (returns False).
        Returns False if the destination is unroutable (a ROUTER peer that is gone).
        """
        if self._outbox:
            if not queue:
                return False
            self._outbox.append(frames)
            return True
        self._maybe = True  # a send may process libzmq's commands: input may be here unsignalled
        try:
            self._send_frames(frames)
        except zmq.Again:
            if not queue:
                return False
            self._outbox.append(frames)
        except zmq.ZMQError as exc:
            if exc.errno == errno.EHOSTUNREACH:
                return False
            raise
        return True

    def _send_frames(self, frames: Frames) -> None:
        """One multipart message, without blocking (raises what ``send`` raises).

        pyzmq's ``send_multipart`` costs 3.6 us more a message than these calls (its checks and
        an ``IntFlag`` built per frame: docs/performance.md, "The fourth round"). It makes the
        same calls otherwise: libzmq takes a message whole or refuses it at its first frame. A
        frame from 64 KiB up is handed over without a copy (``copy=False``; pyzmq copies
        smaller ones anyway, at a cost).
        """
        send, last = self._send, len(frames) - 1
        for index, part in enumerate(frames):
            flags = _MORE if index < last else _NOBLOCK
            if len(part) < _COPY_BELOW:
                send(part, flags)
            else:
                send(part, flags, copy=False)

    def send_message(
        self, message: Message, max_size: int, *, to: bytes | None = None, queue: bool = True
    ) -> bool:
        """Frame ``message`` (split under ``max_size``, see ``frames_within``) and ``send`` it.

        ``to`` is the routing id on a ROUTER. Returns False at the first part that could not
        go (see ``send``).
        """
        batches = frames_within(message, max_size)
        if len(batches) == 1 and len(batches[0][1]) > max_size:
            kind = type(message).__name__
            log.error(
                "a %s of %d bytes is over the %d-byte limit", kind, len(batches[0][1]), max_size
            )
        for frames in batches:
            if not self.send(frames if to is None else [to, *frames], queue=queue):
                return False
        return True

    def flush(self) -> list[Frames]:
        """Retry queued sends; returns those whose destination turned out unroutable."""
        dropped: list[Frames] = []
        self._maybe = True  # (as in ``send``)
        while self._outbox:
            frames = self._outbox[0]
            try:
                self._send_frames(frames)
            except zmq.Again:
                break
            except zmq.ZMQError as exc:
                if exc.errno != errno.EHOSTUNREACH:
                    raise
                dropped.append(frames)
            self._outbox.popleft()
        return dropped

    def pending(self) -> list[Frames]:
        """Take the messages still waiting to be sent (the socket is about to close)."""
        frames = list(self._outbox)
        self._outbox.clear()
        return frames

    @property
    def backlog(self) -> int:
        """Messages waiting for room in the peer's pipe."""
        return len(self._outbox)


def bad_frame_logger(
    logger: logging.Logger, address: str, *, fatal_version: bool = False
) -> Callable[[bytes, RemoteProtocolError], None]:
    """An ``on_error`` for ``decoded`` that logs a bad frame from the dispatcher at ``address``.

    Logged the first ten times, then every thousandth. ``fatal_version``: a dispatcher of
    another protocol version raises ``PeerRefusedError`` instead (it cannot change while
    connected, and its ``Refuse`` would not decode here either).
    """
    count = 0

    def on_error(_peer: bytes, exc: RemoteProtocolError) -> None:
        nonlocal count
        if fatal_version and isinstance(exc, ProtocolVersionError):
            raise PeerRefusedError(f"dispatcher {address}: {exc}")
        count += 1
        if worth_logging(count):
            logger.warning("protocol error from dispatcher %s (#%d): %s", address, count, exc)

    return on_error
