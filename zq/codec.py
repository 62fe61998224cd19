"""One Encoder and one Decoder for the wire protocol; bad bytes become ``RemoteProtocolError``.

Pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

import msgspec

from zq.exceptions import ProtocolVersionError, RemoteProtocolError
from zq.messages import PROTOCOL_VERSION, SIGNATURE, SIGNATURE_PREFIX, Message

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
        return _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RemoteProtocolError(f"undecodable message: {exc}") from None
