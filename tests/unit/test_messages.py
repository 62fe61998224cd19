"""Golden bytes freeze the encoding of every message; bad bytes are the peer's fault."""

import pytest

from zq.core import codec
from zq.core.messages import (
    SIGNATURE,
    Ack,
    Assign,
    Busy,
    Bye,
    Copied,
    Copy,
    Credit,
    Drop,
    ErrorInfo,
    Fetch,
    Forward,
    Handoff,
    Heartbeat,
    Hello,
    Items,
    Leaving,
    Progress,
    Read,
    Refuse,
    Rejoin,
    Resubmit,
    ResultMsg,
    Results,
    Submit,
    Taken,
    TaskMsg,
    Welcome,
)
from zq.exceptions import RemoteProtocolError

TASK = TaskMsg("id1", "app:add", b"\x92\x92\x01\x02\x80", {"k": 1}, "default", 1)
RESULT = ResultMsg("id1", False, b"\x03", 0.5)
ERROR = ResultMsg("id2", True, b"", 0.1, {}, ErrorInfo("builtins", "ValueError", "bad", ["bad"]))

GOLDEN = [
    (
        Hello("executor", 1, "s1", 42, "h", ["app:add"], [], 10),
        "99 a5 68 65 6c 6c 6f a8 65 78 65 63 75 74 6f 72 01 a2 73 31 2a a1 68 91 a7 61 70 70 3a "
        "61 64 64 90 0a",
    ),
    (Welcome("inc", 1.0), "93 a7 77 65 6c 63 6f 6d 65 a3 69 6e 63 cb 3f f0 00 00 00 00 00 00"),
    (Refuse("no"), "92 a6 72 65 66 75 73 65 a2 6e 6f"),
    (Rejoin("inc"), "92 a6 72 65 6a 6f 69 6e a3 69 6e 63"),
    (Credit(5), "92 a6 63 72 65 64 69 74 05"),
    (
        Assign([TASK], 3),
        "93 a6 61 73 73 69 67 6e 91 96 a3 69 64 31 a7 61 70 70 3a 61 64 64 c4 05 92 92 01 02 80 "
        "81 a1 6b 01 a7 64 65 66 61 75 6c 74 01 03",
    ),
    (
        Results([RESULT], 1),
        "94 a7 72 65 73 75 6c 74 73 91 98 a3 69 64 31 c2 c4 01 03 cb 3f e0 00 00 00 00 00 00 80 "
        "c0 c0 00 01 c2",
    ),
    (
        Forward([ERROR]),
        "95 a7 66 6f 72 77 61 72 64 91 98 a3 69 64 32 c3 c4 00 cb 3f b9 99 99 99 99 99 9a 80 96 "
        "a8 62 75 69 6c 74 69 6e 73 aa 56 61 6c 75 65 45 72 72 6f 72 a3 62 61 64 91 a3 62 61 64 "
        "80 a0 c0 00 90 90 90",
    ),
    (Heartbeat(), "92 a2 68 62 00"),
    (Bye(["id1"]), "93 a3 62 79 65 91 a3 69 64 31 90"),
    (Bye([], ["id2"]), "93 a3 62 79 65 90 91 a3 69 64 32"),
    (
        Submit([TASK]),
        "92 a6 73 75 62 6d 69 74 91 96 a3 69 64 31 a7 61 70 70 3a 61 64 64 c4 05 92 92 01 02 80 "
        "81 a1 6b 01 a7 64 65 66 61 75 6c 74 01",
    ),
    (Ack(["id1"]), "92 a3 61 63 6b 91 a3 69 64 31"),
    (Progress([("id1", b"\x01")]), "92 a8 70 72 6f 67 72 65 73 73 91 92 a3 69 64 31 c4 01 01"),
    (Fetch(["id1"]), "92 a5 66 65 74 63 68 91 a3 69 64 31"),
    (
        Busy([TaskMsg("id1", "t", b"p")]),
        "92 a4 62 75 73 79 91 96 a3 69 64 31 a1 74 c4 01 70 80 a7 64 65 66 61 75 6c 74 00",
    ),
    (Copy(3, [], fresh=True), "94 a4 63 6f 70 79 03 90 c3"),
    (Copied(3), "92 a6 63 6f 70 69 65 64 03"),
    (
        Handoff([("why", None, TaskMsg("id1", "t", b"p"))], ["r1"]),
        "93 a7 68 61 6e 64 6f 66 66 91 93 a3 77 68 79 c0 96 a3 69 64 31 a1 74 c4 01 70 80 a7 64 "
        "65 66 61 75 6c 74 00 91 a2 72 31",
    ),
    (Drop(["id1"]), "92 a4 64 72 6f 70 91 a3 69 64 31"),
    (Resubmit([]), "92 a8 72 65 73 75 62 6d 69 74 90"),
    (Leaving("i1"), "92 a7 6c 65 61 76 69 6e 67 a2 69 31"),
    (Taken(["id1"]), "92 a5 74 61 6b 65 6e 91 a3 69 64 31"),
    (Forward([], [], ["id1"]), "95 a7 66 6f 72 77 61 72 64 90 90 91 a3 69 64 31 90"),
    (Items([("id1", 0, b"\x01")]), "92 a5 69 74 65 6d 73 91 93 a3 69 64 31 00 c4 01 01"),
    (Read([("id1", 32)]), "92 a4 72 65 61 64 91 92 a3 69 64 31 20"),
]


def test_an_appended_field_keeps_old_peers_decodable() -> None:
    # Forward gained ``progress`` (appended, with a default): a Forward encoded before that
    # still decodes, and the new field takes its default.
    old = bytes.fromhex(
        "92 a7 66 6f 72 77 61 72 64 91 97 a3 69 64 32 c3 c4 00 cb 3f b9 99 99 99 99 99 9a 80 96 "
        "a8 62 75 69 6c 74 69 6e 73 aa 56 61 6c 75 65 45 72 72 6f 72 a3 62 61 64 91 a3 62 61 64 "
        "80 a0 c0"
    )
    assert codec.decode(SIGNATURE, old) == Forward([ERROR])


@pytest.mark.parametrize(("message", "golden"), GOLDEN, ids=[type(m).__name__ for m, _ in GOLDEN])
def test_every_message_has_frozen_bytes(message: object, golden: str) -> None:
    body = codec.encode(message)  # type: ignore[arg-type]
    assert body.hex(" ") == golden
    assert codec.decode(SIGNATURE, body) == message


def test_the_payload_travels_as_opaque_bytes() -> None:
    decoded = codec.decode(SIGNATURE, codec.encode(Assign([TASK])))
    assert isinstance(decoded, Assign) and decoded.tasks[0].payload == TASK.payload


@pytest.mark.parametrize(
    ("signature", "body", "match"),
    [
        (b"ZQ\x07", codec.encode(Heartbeat()), "protocol version 7"),
        (b"HTTP", codec.encode(Heartbeat()), "not a zq peer"),
        (SIGNATURE, b"\xc1garbage", "undecodable"),
        (SIGNATURE, b"\x92\xa4nope\x01", "undecodable"),
        (SIGNATURE, b"\x92\xa6credit\xa3bad", "undecodable"),
    ],
)
def test_bad_frames_raise_remote_protocol_error(signature: bytes, body: bytes, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        codec.decode(signature, body)
