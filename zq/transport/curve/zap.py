"""The ZAP handler (ZeroMQ RFC 27): answers who may connect, from the allow-lists."""

from __future__ import annotations

import logging

import zmq
import zmq.auth
from zmq.utils import z85

from zq.core.access import zap_answer
from zq.core.log_rate import worth_logging
from zq.exceptions import SecurityConfigError
from zq.transport.curve.allow import AllowList

log = logging.getLogger("zq.security")


ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class ZapHandler:
    """Answers libzmq's authentication requests for one context, on the event loop.

    Bound before any CURVE socket of that context binds. Refusals are logged (the first ten,
    then every thousandth) with the peer's address.
    """

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], allow: AllowList) -> None:
        self.allow = allow
        self.refused = 0
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        try:
            self.sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self.sock.close(linger=0)
            raise SecurityConfigError(f"cannot start the authenticator: {exc}") from None

    @property
    def fd(self) -> int:
        """The descriptor to watch for requests (edge-triggered, like any ZeroMQ socket's)."""
        fd = self.sock.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        return fd

    def answer(self) -> None:
        """Answer every request waiting (reading EVENTS re-arms the descriptor)."""
        sock = self.sock
        while True:
            events = sock.getsockopt(zmq.EVENTS)
            if not (isinstance(events, int) and events & zmq.POLLIN):
                return
            request = sock.recv_multipart(zmq.NOBLOCK)
            try:
                reply = zap_answer(request, self.allow.roles())
            except Exception:  # a REP socket must answer; and when in doubt, refuse
                log.exception("authenticator failed: refusing the connection")
                reply = [b"1.0", request[1] if len(request) > 1 else b"", b"500", b"", b"", b""]
            sock.send_multipart(reply)
            if reply[2] != b"200":
                self._refused(request, reply[3])

    def _refused(self, request: list[bytes], why: bytes) -> None:
        self.refused += 1
        if worth_logging(self.refused):
            address = request[3].decode(errors="replace") if len(request) > 3 else "?"
            key = request[6] if len(request) > 6 and len(request[6]) == 32 else b""
            log.warning(
                "refused a connection from %s (#%d): %s%s",
                address,
                self.refused,
                why.decode(errors="replace"),
                f" (key {z85.encode(key).decode()})" if key else "",
            )

    def close(self) -> None:
        """Stop answering (clients then fail closed)."""
        self.sock.close(linger=0)
