"""One Encoder and one Decoder for the wire protocol; bad bytes become ``RemoteProtocolError``.

Pure: no sockets, no asyncio, no clock.

Rule: whatever a peer's bytes make the decoder do (a type error, a recursion error on deep
nesting, running out of memory) is the peer's fault and comes out as ``RemoteProtocolError``;
nothing else escapes ``decode``. Fields typed ``Any`` (labels, an error's args and attributes)
are also held to ``MAX_DEPTH`` levels of nesting, so a message that decodes cannot make a
later encode or ``repr`` recurse past the interpreter's limit either.
"""

from __future__ import annotations

from typing import Any

import msgspec

from zq.core.messages import (
    PROTOCOL_VERSION,
    SIGNATURE,
    SIGNATURE_PREFIX,
    Assign,
    Forward,
    Message,
    Results,
    Submit,
)
from zq.exceptions import ProtocolVersionError, RemoteProtocolError

MAX_DEPTH = 32  # levels of nesting allowed inside a field typed Any

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


def encode(message: Message) -> bytes:
    """Encode one message body (without the signature frame)."""
    return _encoder.encode(message)


def check_signature(signature: bytes) -> None:
    """Raise ``RemoteProtocolError`` unless ``signature`` is this protocol version's."""
    if signature == SIGNATURE:
        return
    if signature[:2] == SIGNATURE_PREFIX and len(signature) == 3:
        raise ProtocolVersionError(
            f"peer speaks zq protocol version {signature[2]}, this process speaks "
            f"version {PROTOCOL_VERSION}: run the same zq version on both sides"
        )
    raise RemoteProtocolError(f"not a zq peer: bad signature frame {signature[:16]!r}")


def decode(signature: bytes, body: bytes) -> Message:
    """Check the signature and decode the body.

    Any fault is the peer's: ``RemoteProtocolError``.
    """
    check_signature(signature)
    try:
        message = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RemoteProtocolError(f"undecodable message: {exc}") from None
    except RecursionError:
        raise RemoteProtocolError("undecodable message: nested too deeply") from None
    except MemoryError:
        raise RemoteProtocolError(f"undecodable message of {len(body)} bytes: no memory") from None
    except Exception as exc:  # anything else msgspec may raise on hostile bytes
        raise RemoteProtocolError(f"undecodable message: {type(exc).__name__}: {exc}") from None
    _check_depth(message)
    return message


def _check_depth(message: Message) -> None:
    """Refuse a message whose ``Any`` fields nest deeper than ``MAX_DEPTH``."""
    if isinstance(message, Submit | Assign):
        for task in message.tasks:
            if task.labels and not shallow(task.labels):
                raise RemoteProtocolError(f"task {task.task_id[:64]!r}: labels nested too deeply")
    elif isinstance(message, Results | Forward):
        for result in message.results:
            error = result.error
            if (result.labels and not shallow(result.labels)) or (
                error is not None and not (shallow(error.args) and shallow(error.attrs))
            ):
                raise RemoteProtocolError(
                    f"result {result.task_id[:64]!r}: labels or error nested too deeply"
                )


def shallow(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (decoded msgpack: dicts, lists, scalars) nests at most ``limit`` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if type(item) is dict:
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item if type(k) is not str)
        elif type(item) is list or type(item) is tuple:
            stack.extend((v, depth + 1) for v in item)
    return True


_probe = msgspec.msgpack.Encoder()


def portable(value: Any) -> bool:
    """Whether msgpack can carry ``value`` (and keep its type): labels and exception fields."""
    try:
        _probe.encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return False
    return True
