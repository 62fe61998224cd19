"""zq's msgspec serializers return payloads that hold only their bytes.

A queued task keeps its payload until a worker takes it, so what the allocator gave the payload
is what each waiting task costs. tracemalloc counts the allocations themselves.
"""

from __future__ import annotations

import tracemalloc

import pytest

from zq.serializers import JSONSerializer, MSGPackSerializer
from zq.serializers.base import TaskiqSerializer

COPIES = 1000


def allocated_per_payload(serializer: TaskiqSerializer, value: object) -> tuple[float, int]:
    """Bytes allocated per kept payload of ``value``, and the payload's length."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [serializer.dumpb(value) for _ in range(COPIES)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    list_slot = 8  # the list's pointer to each payload
    return (after - before) / COPIES - list_slot, len(kept[0])


@pytest.mark.parametrize("serializer", [MSGPackSerializer(), JSONSerializer()])
@pytest.mark.parametrize("size", [0, 20, 1000, 10_000])
def test_a_payload_holds_its_encoding_and_no_working_buffer(
    serializer: TaskiqSerializer, size: int
) -> None:
    value = [["x" * size] if size else [], {}]
    allocated, length = allocated_per_payload(serializer, value)
    header = 33  # a bytes object's header and its trailing NUL
    # msgspec's own buffer would hold up to half as much again (and 32 bytes at least).
    assert allocated <= header + length + 16, (allocated, length)
    assert serializer.loadb(serializer.dumpb(value)) == value
