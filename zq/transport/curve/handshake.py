"""What a failed CURVE handshake means, in words an operator can act on."""

from __future__ import annotations

import logging

import zmq
import zmq.auth
from zmq.utils.monitor import parse_monitor_message

log = logging.getLogger("zq.security")


HANDSHAKE_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


def handshake_problem(event: int, value: int, *, curve: bool = True) -> str | None:
    """What a client socket's monitor event says went wrong in the handshake, if anything.

    Without CURVE (``curve=False``) no key can be wrong: the peer is not a zq dispatcher of
    this version, or the connection broke while it was being set up.
    """
    if not curve and event in (
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    ):
        return (
            "the connection failed its ZeroMQ handshake: the dispatcher went away while "
            "connecting, or what listens there is not a zq dispatcher (another program, or "
            "a dispatcher with CURVE on)"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            f"the dispatcher refused this process's key (ZAP status {value}): add its public "
            "key to the dispatcher's allow-list"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return (
            f"the handshake failed (ZMTP error {value:#x}): do both sides use CURVE, with "
            "the dispatcher's public key as the server key?"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return (
            "the handshake failed: a wrong server key, CURVE on one side only, or a "
            "dispatcher whose authenticator is not running"
        )
    return None


class HandshakeWatch:
    """A client socket's monitor, kept to say why its handshakes fail (a refused key...)."""

    def __init__(self, sock: zmq.Socket[bytes], *, curve: bool = True) -> None:
        self.monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self._sock = sock
        self._curve = curve

    def problem(self) -> str | None:
        """The last handshake failure reported and not followed by a success, if any."""
        found: str | None = None
        while True:
            try:
                frames = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return found
            event = parse_monitor_message(frames)
            found = handshake_problem(int(event["event"]), int(event["value"]), curve=self._curve)

    def close(self) -> None:
        """Stop monitoring."""
        self._sock.disable_monitor()
        self.monitor.close(linger=0)
