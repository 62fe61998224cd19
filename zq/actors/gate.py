"""What a dispatcher lets in: its authenticator, the role check on each message, bad frames.

Kept apart from the dispatcher actor, which only calls it: the decisions are in
``zq.core.access`` (pure), the sockets in ``zq.transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
from collections.abc import Callable, Iterator

import zmq
from zmq.utils.monitor import parse_monitor_message

from zq.actors.dispatcher_api import DispatcherStats
from zq.core.access import KEY_OBSERVER, KEY_PRODUCER, is_loopback, permits
from zq.core.framing import decoded_with_meta
from zq.core.log_rate import worth_logging
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_EXECUTOR,
    ROLE_OBSERVER,
    ROLE_PRODUCER,
    Answer,
    Hello,
    Message,
    Query,
    Refuse,
)
from zq.exceptions import ProtocolVersionError, RemoteProtocolError
from zq.transport.channel import EVENTS, POLLIN, Channel
from zq.transport.curve import HANDSHAKE_EVENTS, AllowList, ZapHandler, check_libzmq
from zq.transport.sockets import AddressLock, SocketConfig, router

log = logging.getLogger("zq.dispatcher")

ROLE_NAMES = {KEY_PRODUCER: "a producer", KEY_OBSERVER: "an observer"}  # the narrow key roles


class Gate:
    """The dispatcher's door: authenticates connections (CURVE) and checks what peers send.

    ``send`` is how it answers a peer (a ``Refuse`` it can log).
    """

    def __init__(
        self,
        stats: DispatcherStats,
        send: Callable[[bytes, Message], None],
        allow: AllowList | None,
        hello_timeout_s: float = 5.0,
        max_connections: int | None = None,
    ) -> None:
        self.stats = stats
        self.allow = allow
        self.hello_timeout_s = hello_timeout_s
        self.max_connections = max_connections or default_max_connections()
        self._send = send
        self._open: set[int] = set()  # descriptors of the connections we accepted
        self._unspoken: dict[int, float] = {}  # accepted, no Hello yet: since when
        self._zap: ZapHandler | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._monitor_fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: AddressLock | None = None  # ipc:// only: see AddressLock

    @property
    def curve(self) -> bool:
        """Whether connections are authenticated, so that each message is checked."""
        return self._zap is not None

    def open(
        self, ctx: zmq.Context[zmq.Socket[bytes]], loop: asyncio.AbstractEventLoop, address: str
    ) -> None:
        """Before the ROUTER binds: start the authenticator (with CURVE)."""
        check_libzmq(curve=self.allow is not None)
        self._loop = loop
        if self.allow is None:
            return
        zap = ZapHandler(ctx, self.allow)
        loop.add_reader(zap.fd, zap.answer)
        self._zap = zap

    def bind(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        loop: asyncio.AbstractEventLoop,
        address: str,
        config: SocketConfig,
    ) -> tuple[zmq.Socket[bytes], str]:
        """Open the gate, bind the dispatcher's ROUTER behind it, watch its handshakes.

        Returns the socket and the endpoint it bound; on failure nothing stays open.
        """
        try:
            if address.startswith("ipc://"):
                self._lock = AddressLock(address)
            self.open(ctx, loop, address)  # before anything binds
            sock, endpoint = router(ctx, address, config)
        except BaseException:
            self.close()
            ctx.term()
            raise
        if self.allow is None and not is_loopback(address):  # said once it is bound here
            log.warning(
                "%s is reachable from the network and CURVE is off: anyone who can "
                "connect can run tasks here and post results (see 'Running on a LAN')",
                address,
            )
        self.watch(sock)
        return sock, endpoint

    def admitted(self, channel: Channel) -> Iterator[tuple[bytes, Message]]:
        """The messages of one batch that the gate lets in (with CURVE, or while unspoken).

        With CURVE each message is checked against its sender key's role; a ``Hello`` marks
        its connection as a zq peer's (the others are closed after the handshake timeout).
        """
        curve = self.curve
        batch, users, fds = channel.recv_batch_with_meta(users=curve)
        messages = decoded_with_meta(batch, users, fds, on_error=self.protocol_error)
        for peer, message, user, fd in messages:
            if curve and not self.check(peer, user, message):
                continue
            if type(message) is Hello:
                self.spoke(fd)
            yield peer, message

    def watch(self, sock: zmq.Socket[bytes]) -> None:
        """Count (and log) connections that fail their handshake on the bound ROUTER.

        With CURVE these are clients without CURVE or with another server key, and keys the
        authenticator refused (which it logs itself, with the address and the key).
        """
        assert self._loop is not None
        events = HANDSHAKE_EVENTS | zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED
        self._monitor = sock.get_monitor_socket(events)
        fd = self._monitor.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        self._monitor_fd = fd
        self._loop.add_reader(fd, self._connection_events)
        self._connection_events()  # the descriptor is edge-triggered: look once now

    def _connection_events(self) -> None:
        monitor = self._monitor
        while monitor is not None:
            try:
                event = parse_monitor_message(monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            kind, value = event["event"], int(event["value"])
            if kind == zmq.EVENT_ACCEPTED:
                self._accepted(value)
                continue
            if kind == zmq.EVENT_DISCONNECTED:
                self._open.discard(value)
                self._unspoken.pop(value, None)
                continue
            self.stats.handshakes_failed += 1
            count = self.stats.handshakes_failed
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH or not worth_logging(count):
                continue
            if self.curve:
                log.warning(
                    "a connection failed its handshake (#%d, error %#x): a client without "
                    "CURVE, with another server key, or not a zq peer",
                    count,
                    int(event["value"]),
                )
            else:  # no key to get wrong: a peer that went away mid-handshake, or not ZeroMQ
                log.info(
                    "a connection ended before its ZeroMQ handshake was done (#%d, error %#x): "
                    "a peer that stopped while connecting, or a client that is not a zq peer",
                    count,
                    int(event["value"]),
                )

    # --- connections that never say hello -------------------------------------------------

    def poll(self) -> None:
        """Read connection events now, before the ROUTER's messages.

        libzmq reports a connection as accepted before any message can arrive on it, so a
        ``Hello`` is never read before its connection is known (and then left unmarked).
        """
        monitor = self._monitor
        if monitor is not None:
            events = monitor.getsockopt(EVENTS)  # (ints: an IntFlag's ``&`` builds an enum)
            if isinstance(events, int) and events & POLLIN:
                self._connection_events()

    @property
    def unspoken(self) -> bool:
        """Whether a connection has not said hello yet (its messages' descriptors are read)."""
        return bool(self._unspoken)

    def spoke(self, fd: int) -> None:
        """The connection on ``fd`` said hello: it is a zq peer's."""
        self._unspoken.pop(fd, None)

    def _accepted(self, fd: int) -> None:
        assert self._loop is not None
        self._open.add(fd)
        if len(self._open) > self.max_connections:
            self._cut(fd, f"over max_connections ({self.max_connections})")
        else:
            self._unspoken[fd] = self._loop.time()

    def sweep(self, now: float) -> None:
        """Close the connections that said nothing within ``hello_timeout_s``."""
        if not self._unspoken:
            return
        late = [fd for fd, at in self._unspoken.items() if now - at > self.hello_timeout_s]
        for fd in late:
            self._cut(fd, f"it said no hello within {self.hello_timeout_s:g}s")

    def _cut(self, fd: int, why: str) -> None:
        """Shut a connection down under libzmq, which then closes it (and reports it)."""
        self._unspoken.pop(fd, None)
        self._open.discard(fd)
        address = shut_down(fd)
        self.stats.connections_closed += 1
        count = self.stats.connections_closed
        if worth_logging(count):
            log.warning("closed the connection from %s (#%d): %s", address, count, why)

    def close(self) -> None:
        """Stop the authenticator and the handshake monitor (after the ROUTER closed)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._monitor is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._monitor_fd)
            self._open.clear()
            self._unspoken.clear()
            self._monitor.close(linger=0)
            self._monitor = None
        if self._zap is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._zap.fd)
            self._zap.close()
            self._zap = None

    def check(self, peer: bytes, user: str, message: Message) -> bool:
        """Whether the key behind ``peer`` (its ZAP User-Id ``user``) may send ``message``.

        A refused message is dropped and counted; a worker's ``Hello`` from a key allowed only
        as a producer is answered with ``Refuse``, so that worker says why it cannot join.
        """
        if permits(user, message):
            return True
        self.stats.refused += 1
        kind = type(message).__name__
        if isinstance(message, Hello):
            named = ROLE_NAMES.get(user)
            why = (
                f"this key is allowed as {named} only"
                if named is not None
                else f"this key has no role here ({user!r})"
            )
            self._send(peer, Refuse(f"{why}: it may not run tasks"))
        elif isinstance(message, Query):  # an action from a read-only key: say why, at once
            role = ROLE_NAMES.get(user, repr(user))
            why = f"refused: this key is allowed as {role} only, which may not {message.what!r}"
            self._send(peer, Answer(message.ref, None, why))
        if worth_logging(self.stats.refused):
            log.warning(
                "refused a %s from peer %s, whose key is allowed as %r (#%d)",
                kind,
                peer.hex()[:12],
                user,
                self.stats.refused,
            )
        return False

    def admits(self, peer: bytes, hello: Hello) -> bool:
        """Whether a ``Hello`` speaks our protocol version and names a role; else, ``Refuse``."""
        if hello.version != PROTOCOL_VERSION:
            why = f"protocol version {hello.version} != {PROTOCOL_VERSION}"
        elif hello.role not in (ROLE_EXECUTOR, ROLE_PRODUCER, ROLE_OBSERVER):
            why = f"unknown role {hello.role!r}"
        else:
            return True
        self._send(peer, Refuse(why))
        return False

    def handler_failed(self, peer: bytes, message: Message, exc: Exception) -> None:
        """Handling ``message`` raised: zq's bug or an input no check caught. Logged, dropped."""
        self.stats.handler_errors += 1
        count = self.stats.handler_errors
        if worth_logging(count):
            log.error(
                "handling a %s from peer %s failed (#%d); the message is dropped and the "
                "dispatcher goes on (please report this)",
                type(message).__name__,
                peer.hex()[:12],
                count,
                exc_info=exc,
            )

    def protocol_error(self, peer: bytes, exc: RemoteProtocolError) -> None:
        """Count and log a message that is not valid zq protocol (the first ten, then rarely)."""
        self.stats.protocol_errors += 1
        if isinstance(exc, ProtocolVersionError):  # tell it why, in case it can read us
            self._send(peer, Refuse(str(exc)))
        if worth_logging(self.stats.protocol_errors):
            log.warning(
                "protocol error from peer %s (#%d): %s",
                peer.hex()[:12],
                self.stats.protocol_errors,
                exc,
            )


def default_max_connections() -> int:
    """Half the process's descriptor limit (the embedding app needs the rest), at most 4096."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, soft // 2))


def shut_down(fd: int) -> str:
    """Shut the TCP or IPC connection on ``fd`` down (libzmq owns ``fd``); its peer's address."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return "a connection already gone"
    with sock:
        try:
            address = str(sock.getpeername())
        except OSError:
            address = "an unknown peer"
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return address
