"""CURVE keys, allow-lists and the ZAP handler: what locks a zq cluster to known keys.

A process with CURVE on has a key pair (``zq keys generate``). The dispatcher's ROUTER is a
CURVE server; workers and joined producers are clients that must know the dispatcher's public
key. Which client keys may connect is decided by the ZAP handler, which this module binds in
the dispatcher's ZeroMQ context *before* the ROUTER binds; the ROUTER also sets a ZAP domain
and ``ZAP_ENFORCE_DOMAIN``, so that if no handler answers, libzmq refuses every client instead
of letting in anyone who knows the server key (fail closed).

Key files are the ZPL certificates that pyzmq and czmq read: ``NAME.key`` holds the public
key, ``NAME.key_secret`` both keys (written readable by its owner only).
"""

from zq.transport.curve.allow import AllowList
from zq.transport.curve.handshake import HANDSHAKE_EVENTS, HandshakeWatch, handshake_problem
from zq.transport.curve.keys import (
    ENV,
    MIN_LIBZMQ,
    CurveKeys,
    CurveSettings,
    check_libzmq,
    generate,
    read_public,
    serve_curve,
    use_curve,
)
from zq.transport.curve.zap import ZAP_ENDPOINT, ZapHandler

__all__ = [
    "ENV",
    "HANDSHAKE_EVENTS",
    "MIN_LIBZMQ",
    "ZAP_ENDPOINT",
    "AllowList",
    "CurveKeys",
    "CurveSettings",
    "HandshakeWatch",
    "ZapHandler",
    "check_libzmq",
    "generate",
    "handshake_problem",
    "read_public",
    "serve_curve",
    "use_curve",
]
