"""What a dispatcher lets in: its authenticator, the role check on each message, bad frames.

Kept apart from the dispatcher actor, which only calls it: the decisions are in
``zq.access`` (pure), the sockets in ``zq.transport``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import zmq
from zmq.utils.monitor import parse_monitor_message

from zq.access import KEY_PRODUCER, is_loopback, permits
from zq.actors.dispatcher_api import DispatcherStats
from zq.exceptions import ProtocolVersionError, RemoteProtocolError
from zq.messages import PROTOCOL_VERSION, ROLE_EXECUTOR, ROLE_PRODUCER, Hello, Message, Refuse
from zq.transport.curve import HANDSHAKE_EVENTS, AllowList, ZapHandler, check_libzmq

log = logging.getLogger("zq.dispatcher")


class Gate:
    """The dispatcher's door: authenticates connections (CURVE) and checks what peers send.

    ``send`` is how it answers a peer (a ``Refuse`` it can log).
    """

    def __init__(
        self,
        stats: DispatcherStats,
        send: Callable[[bytes, Message], None],
        allow: AllowList | None,
    ) -> None:
        self.stats = stats
        self.allow = allow
        self._send = send
        self._zap: ZapHandler | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._monitor_fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def curve(self) -> bool:
        """Whether connections are authenticated, so that each message is checked."""
        return self._zap is not None

    def open(
        self, ctx: zmq.Context[zmq.Socket[bytes]], loop: asyncio.AbstractEventLoop, address: str
    ) -> None:
        """Before the ROUTER binds: start the authenticator, or warn of an open cluster."""
        check_libzmq(curve=self.allow is not None)
        self._loop = loop
        if self.allow is None:
            if not is_loopback(address):
                log.warning(
                    "%s is reachable from the network and CURVE is off: anyone who can "
                    "connect can run tasks here and post results (see 'Running on a LAN')",
                    address,
                )
            return
        zap = ZapHandler(ctx, self.allow)
        loop.add_reader(zap.fd, zap.answer)
        self._zap = zap

    def watch(self, sock: zmq.Socket[bytes]) -> None:
        """Count (and log) connections that fail their handshake on the bound ROUTER.

        With CURVE these are clients without CURVE or with another server key, and keys the
        authenticator refused (which it logs itself, with the address and the key).
        """
        assert self._loop is not None
        self._monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS)
        fd = self._monitor.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        self._monitor_fd = fd
        self._loop.add_reader(fd, self._handshake_failed)
        self._handshake_failed()  # the descriptor is edge-triggered: look once now

    def _handshake_failed(self) -> None:
        monitor = self._monitor
        while monitor is not None:
            try:
                event = parse_monitor_message(monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            self.stats.handshakes_failed += 1
            count = self.stats.handshakes_failed
            if event["event"] != zmq.EVENT_HANDSHAKE_FAILED_AUTH and (
                count <= 10 or count % 1000 == 0
            ):
                log.warning(
                    "a connection failed its handshake (#%d, error %#x): a client without "
                    "CURVE, with another server key, or not a zq peer",
                    count,
                    int(event["value"]),
                )

    def close(self) -> None:
        """Stop the authenticator and the handshake monitor (after the ROUTER closed)."""
        if self._monitor is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._monitor_fd)
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
            why = (
                "this key is allowed as a producer only"
                if user == KEY_PRODUCER
                else f"this key has no role here ({user!r})"
            )
            self._send(peer, Refuse(f"{why}: it may not run tasks"))
        if self.stats.refused <= 10 or self.stats.refused % 1000 == 0:
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
        elif hello.role not in (ROLE_EXECUTOR, ROLE_PRODUCER):
            why = f"unknown role {hello.role!r}"
        else:
            return True
        self._send(peer, Refuse(why))
        return False

    def protocol_error(self, peer: bytes, exc: RemoteProtocolError) -> None:
        """Count and log a message that is not valid zq protocol (the first ten, then rarely)."""
        self.stats.protocol_errors += 1
        if isinstance(exc, ProtocolVersionError):  # tell it why, in case it can read us
            self._send(peer, Refuse(str(exc)))
        if self.stats.protocol_errors <= 10 or self.stats.protocol_errors % 1000 == 0:
            log.warning(
                "protocol error from peer %s (#%d): %s",
                peer.hex()[:12],
                self.stats.protocol_errors,
                exc,
            )
