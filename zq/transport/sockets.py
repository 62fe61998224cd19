"""Creating zq's sockets with the options that matter (DESIGN §2).

- LINGER 0 everywhere: closing never blocks on unsent messages; the protocol recovers them.
- ROUTER_MANDATORY on the dispatcher: a send to a vanished peer fails loudly (EHOSTUNREACH)
  instead of being dropped, so its leases can be requeued.
- IMMEDIATE on DEALERs: nothing is queued toward a peer that is not connected.
- MAXMSGSIZE: a peer cannot make us allocate an unbounded frame.
- A routing id unique per session, so a restarted process is a new peer at once.
"""

from __future__ import annotations

import errno

import zmq

from zq.exceptions import AddressInUseError

DEFAULT_MAX_MSG_SIZE = 16 * 1024 * 1024
# Credit bounds what we send to executors; the high-water marks only guard against a peer
# that stops reading, so they are generous (messages, and each message is a batch).
HWM = 100_000


def _common(sock: zmq.Socket[bytes], max_msg_size: int) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_msg_size)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)


def router(
    ctx: zmq.Context[zmq.Socket[bytes]], address: str, max_msg_size: int = DEFAULT_MAX_MSG_SIZE
) -> tuple[zmq.Socket[bytes], str]:
    """A bound ROUTER for a dispatcher; returns it and the endpoint actually bound.

    Raises ``AddressInUseError`` if something already listens on ``address``.
    """
    sock = ctx.socket(zmq.ROUTER)
    _common(sock, max_msg_size)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(f"{address} is already in use") from None
        raise
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
    assert isinstance(endpoint, bytes)
    return sock, endpoint.decode()


def dealer(
    ctx: zmq.Context[zmq.Socket[bytes]],
    address: str,
    routing_id: bytes,
    max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
) -> zmq.Socket[bytes]:
    """A DEALER connected to one dispatcher, with a session-unique routing id."""
    sock = ctx.socket(zmq.DEALER)
    _common(sock, max_msg_size)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.setsockopt(zmq.ROUTING_ID, routing_id)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    sock.connect(address)
    return sock
