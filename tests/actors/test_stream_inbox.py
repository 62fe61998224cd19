"""Whose streamed items a process keeps, and what a reader is told (``zq.actors.stream_inbox``)."""

from __future__ import annotations

import gc

import pytest

from zq.actors.stream_inbox import Streams
from zq.exceptions import StreamLostError


class Handle:
    """Stands in for the handle ``kiq()`` returns (anything weakly referable)."""


def streams() -> tuple[Streams, list[tuple[str, int]]]:
    reports: list[tuple[str, int]] = []
    found = Streams()
    found.report = reports.extend
    return found, reports


def test_items_of_a_task_nobody_can_read_are_acknowledged_and_dropped() -> None:
    found, reports = streams()
    found.put([("t", 0, b"a"), ("t", 1, b"b")])
    assert reports == [("t", 2)]  # the task never waits for a reader that will not come
    with pytest.raises(StreamLostError, match="2 item"):
        found.open("t")


def test_items_wait_for_the_reader_while_the_kiq_handle_lives() -> None:
    found, reports = streams()
    handle = Handle()
    found.hold("t", handle)
    found.put([("t", 0, b"a")])
    assert reports == []
    found.open("t")
    assert found.take("t") == b"a"
    assert found.take("t") is None and reports == [("t", 1)]  # it waits: says where it is
    del handle
    gc.collect()
    found.put([("t", 1, b"b")])  # read: kept although the handle is gone
    assert found.take("t") == b"b"


def test_a_dropped_handle_drains_its_stream() -> None:
    found, reports = streams()
    found.hold("t", Handle())  # dropped at once: a fire-and-forget kiq()
    gc.collect()
    found.put([("t", 0, b"a")])
    assert reports == [("t", 1)]


def test_waiting_for_the_result_without_reading_drains_what_is_kept() -> None:
    found, reports = streams()
    handle = Handle()
    found.hold("t", handle)
    found.put([("t", 0, b"a"), ("t", 1, b"b")])
    found.unread("t")  # wait_result() without stream()
    assert reports == [("t", 2)]
    found.put([("t", 2, b"c")])
    assert reports == [("t", 2), ("t", 3)]


def test_a_reader_that_stops_early_drains_the_rest() -> None:
    found, reports = streams()
    found.open("t")
    found.put([("t", 0, b"a"), ("t", 1, b"b")])
    assert found.take("t") == b"a"
    found.close("t")
    assert reports == [("t", 2)]
    found.put([("t", 2, b"c")])
    assert reports[-1] == ("t", 3)
