"""Framing: a message as the frames that go on the wire, split under a size limit, and back.

A message is ``[routing id (ROUTER side)] + [signature, body]``: the signature says "zq,
protocol version N" before anything is decoded (``zq.core.codec``). Pure: the channel
(``zq.transport.channel``) sends and receives what these functions make and parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from zq.core import codec
from zq.core.messages import (
    SIGNATURE,
    Assign,
    Copy,
    Drop,
    Forward,
    Items,
    Message,
    Resubmit,
    Results,
    Submit,
    Taken,
)
from zq.exceptions import RemoteProtocolError

Frames = list[bytes]
MAX_FRAMES = 3  # the most a zq message has: routing id, signature, body


def frame(message: Message) -> Frames:
    """Signature and body of ``message``, for a DEALER (prefix a routing id for a ROUTER)."""
    return [SIGNATURE, codec.encode(message)]


def frames_within(message: Message, limit: int) -> list[Frames]:
    """``frame(message)``, split into several batches if its body would be over ``limit``.

    A peer drops the connection of a frame over its MAXMSGSIZE, so a batch of many tasks or
    results goes as several smaller ones. A single item over the limit is sent as it is: the
    senders refuse those first (``kiq()`` and the executor's result check).
    """
    if _payload_bytes(message) > limit:  # over it for sure: halve before encoding anything
        halves = _halves(message)
        if halves is not None:
            return [frames for half in halves for frames in frames_within(half, limit)]
    body = codec.encode(message)
    if len(body) <= limit:
        return [[SIGNATURE, body]]
    halves = _halves(message)
    if halves is None:  # one item: the caller sees it is still over the limit
        return [[SIGNATURE, body]]
    return [frames for half in halves for frames in frames_within(half, limit)]


def _payload_bytes(message: Message) -> int:
    """The payloads a batch carries: a lower bound of its encoded size.

    Halving a batch of large tasks by encoding it first encoded each task once per level (a
    hundred 1-MiB tasks: four times over, two thirds of the producer's time); this sum is
    what decides to halve without encoding.
    """
    sizer = _SIZERS.get(type(message))  # (by exact type: a lookup, not a chain of isinstance)
    return 0 if sizer is None else sizer(message)


def _tasks_bytes(message: Any) -> int:
    return sum([len(task.payload) for task in message.tasks])


def _results_bytes(message: Any) -> int:
    return sum([len(result.payload) for result in message.results])


def _forward_bytes(message: Any) -> int:
    return _results_bytes(message) + _items_bytes(message)


def _items_bytes(message: Any) -> int:
    return sum([len(item[2]) for item in message.items])


_SIZERS: dict[type, Callable[[Any], int]] = {
    Assign: _tasks_bytes,
    Submit: _tasks_bytes,
    Resubmit: _tasks_bytes,
    Copy: _tasks_bytes,
    Results: _results_bytes,
    Forward: _forward_bytes,
    Items: _items_bytes,
}


def _halves(message: Message) -> tuple[Message, Message] | None:
    if isinstance(message, Assign) and len(message.tasks) > 1:
        half = len(message.tasks) // 2
        tasks, acked = message.tasks, message.acked
        return Assign(tasks[:half], acked), Assign(tasks[half:], acked)
    if isinstance(message, Submit) and len(message.tasks) > 1:
        half = len(message.tasks) // 2
        return Submit(message.tasks[:half]), Submit(message.tasks[half:])
    if isinstance(message, Resubmit) and len(message.tasks) > 1:
        half = len(message.tasks) // 2
        return Resubmit(message.tasks[:half]), Resubmit(message.tasks[half:])
    if isinstance(message, Drop | Taken) and len(message.task_ids) > 1:
        half, ids, kind = len(message.task_ids) // 2, message.task_ids, type(message)
        return kind(ids[:half]), kind(ids[half:])
    if isinstance(message, Copy) and len(message.tasks) > 1:
        half = len(message.tasks) // 2  # acknowledged once all of it is there: seq goes last
        tasks, seq = message.tasks, message.seq
        return Copy(0, tasks[:half], fresh=message.fresh), Copy(seq, tasks[half:])
    if isinstance(message, Results) and len(message.results) > 1:
        half = len(message.results) // 2
        results, resent = message.results, message.resent
        return Results(results[:half], message.credit, resent), Results(results[half:], 0, resent)
    if isinstance(message, Items) and len(message.items) > 1:
        half = len(message.items) // 2
        return Items(message.items[:half]), Items(message.items[half:])
    if isinstance(message, Forward):
        return _forward_halves(message)
    return None


def _forward_halves(message: Forward) -> tuple[Forward, Forward] | None:
    """A ``Forward`` in two; streamed items stay ahead of results (a stream ends at its result)."""
    results, progress, expired, items = (
        message.results,
        message.progress,
        message.expired,
        message.items,
    )
    if len(items) > 1:
        half = len(items) // 2
        return Forward([], [], [], items[:half]), Forward(results, progress, expired, items[half:])
    if len(results) > 1:
        half = len(results) // 2
        return Forward(results[:half], progress, expired, items), Forward(results[half:])
    if len(progress) > 1:
        half = len(progress) // 2
        return Forward(results, progress[:half], expired, items), Forward([], progress[half:])
    if len(results) + len(progress) + len(items) > 1:
        return Forward(results, [], expired, items), Forward([], progress)
    return None


def parse(frames: Frames, *, routed: bool) -> tuple[bytes, Message]:
    """Split a received multipart message into (routing id or b"", decoded message)."""
    if routed:
        if len(frames) != 3:
            raise RemoteProtocolError(f"expected 3 frames, got {len(frames)}")
        return frames[0], codec.decode(frames[1], frames[2])
    if len(frames) != 2:
        raise RemoteProtocolError(f"expected 2 frames, got {len(frames)}")
    return b"", codec.decode(frames[0], frames[1])


def decoded(
    batch: list[Frames], *, routed: bool, on_error: Callable[[bytes, RemoteProtocolError], None]
) -> Iterator[tuple[bytes, Message]]:
    """The valid messages of ``batch`` as (routing id or b"", message).

    A frame that does not decode is the peer's fault: ``on_error`` is told, and it is skipped.
    """
    for frames in batch:
        try:
            yield parse(frames, routed=routed)
        except RemoteProtocolError as exc:
            on_error(frames[0] if routed and frames else b"", exc)


def decoded_with_meta(
    batch: list[Frames],
    users: list[str],
    fds: list[int],
    *,
    on_error: Callable[[bytes, RemoteProtocolError], None],
) -> Iterator[tuple[bytes, Message, str, int]]:
    """``decoded`` for a ROUTER: (routing id, message, ZAP User-Id, connection descriptor)."""
    for frames, user, fd in zip(batch, users, fds, strict=True):
        try:
            peer, message = parse(frames, routed=True)
        except RemoteProtocolError as exc:
            on_error(frames[0] if frames else b"", exc)
            continue
        yield peer, message, user, fd
