"""Creating zq's sockets with the options that matter (DESIGN §2).

- LINGER 0 everywhere: closing never blocks on unsent messages; the protocol recovers them.
- ROUTER_MANDATORY on the dispatcher: a send to a vanished peer fails loudly (EHOSTUNREACH)
  instead of being dropped, so its leases can be requeued.
- IMMEDIATE on DEALERs: nothing is queued toward a peer that is not connected.
- MAXMSGSIZE: a peer cannot make us allocate an unbounded frame.
- A routing id unique per session, so a restarted process is a new peer at once.
- HANDSHAKE_IVL: a connection that has not finished its ZMTP (and CURVE) handshake in time is
  closed, so idle or half-open TCP connections cannot pile up.
- With CURVE keys, the ROUTER is a CURVE server that fails closed without its authenticator
  (``zq.transport.curve``) and DEALERs are its clients.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass

import zmq

from zq.exceptions import AddressInUseError, AddressNotLocalError
from zq.transport.curve import CurveKeys, serve_curve, use_curve

DEFAULT_MAX_MSG_SIZE = 16 * 1024 * 1024
DEFAULT_HANDSHAKE_TIMEOUT_S = 5.0
# Credit bounds what we send to executors; the high-water marks only guard against a peer
# that stops reading, so they are generous (messages, and each message is a batch).
HWM = 100_000


@dataclass(frozen=True, slots=True)
class SocketConfig:
    """What every zq socket of one process is set up with."""

    max_msg_size: int = DEFAULT_MAX_MSG_SIZE  # bytes per frame; a larger one drops the peer
    handshake_timeout_s: float = DEFAULT_HANDSHAKE_TIMEOUT_S
    curve: CurveKeys | None = None  # this process's key pair and the dispatcher's public key


def _common(sock: zmq.Socket[bytes], config: SocketConfig) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.HANDSHAKE_IVL, max(1, round(config.handshake_timeout_s * 1000)))
    sock.setsockopt(zmq.MAXMSGSIZE, config.max_msg_size)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)


def router(
    ctx: zmq.Context[zmq.Socket[bytes]],
    address: str,
    config: SocketConfig = SocketConfig(),
) -> tuple[zmq.Socket[bytes], str]:
    """A bound ROUTER for a dispatcher; returns it and the endpoint actually bound.

    With CURVE, the context's ZAP handler must be bound first, or every client is refused.
    Raises ``AddressInUseError`` if something already listens on ``address``.
    """
    sock = ctx.socket(zmq.ROUTER)
    _common(sock, config)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    if config.curve is not None:
        serve_curve(sock, config.curve)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(f"{address} is already in use") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise AddressNotLocalError(f"{address} is an address of another host") from None
        raise
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
    assert isinstance(endpoint, bytes)
    return sock, endpoint.decode()


class AddressLock:
    """Exclusive use of an ``ipc://`` address while the lock is held (its ``.lock`` file).

    A TCP port can be bound by one process at a time, which is what makes one dispatcher per
    address (and the takeover rule) hold; libzmq's ipc bind instead replaces a path that is
    still in use. An ``flock`` gives ipc the same rule: the kernel releases it when the
    process ends in any way, and a stopped process keeps it.
    """

    def __init__(self, address: str) -> None:
        self.path = address.removeprefix("ipc://") + ".lock"
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise AddressInUseError(f"{address} is already in use (its lock is held)") from None

    def release(self) -> None:
        """Let another process bind the address."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def dealer(
    ctx: zmq.Context[zmq.Socket[bytes]],
    address: str,
    routing_id: bytes,
    config: SocketConfig = SocketConfig(),
) -> zmq.Socket[bytes]:
    """A DEALER connected to one dispatcher, with a session-unique routing id."""
    sock = ctx.socket(zmq.DEALER)
    _common(sock, config)
    if config.curve is not None:
        use_curve(sock, config.curve)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.setsockopt(zmq.ROUTING_ID, routing_id)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    sock.connect(address)
    return sock
