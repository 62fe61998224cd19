"""What a dispatcher lets in: its authenticator, the role check on each message, bad frames.

Kept apart from the dispatcher actor, which only calls it: the decisions are in
``zq.access`` (pure), the sockets in ``zq.transport``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import zmq

from zq.access import KEY_PRODUCER, is_loopback, permits
from zq.actors.dispatcher_api import DispatcherStats
from zq.exceptions import ProtocolVersionError, RemoteProtocolError
from zq.messages import PROTOCOL_VERSION, ROLE_EXECUTOR, ROLE_PRODUCER, Hello, Message, Refuse
from zq.transport.curve import AllowList, ZapHandler, check_libzmq

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
        self._zap, self._loop = zap, loop

    def close(self) -> None:
        """Stop the authenticator (after the ROUTER closed)."""
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
