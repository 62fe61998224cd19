"""The two sides of a stream (``zq.core.streams``): plain synchronous tests."""

from __future__ import annotations

import pytest

from zq.core.streams import ACK_EVERY, Inbox, Window


def test_the_window_fills_and_an_ack_frees_exactly_what_was_read() -> None:
    window = Window(3)
    assert [window.push(b"a"), window.push(b"b"), window.push(b"c")] == [0, 1, 2]
    assert window.full
    assert window.acked(2) and not window.full
    assert window.resend() == [(2, b"c")]  # only what the reader has not taken
    assert not window.acked(1)  # a late ack changes nothing
    assert window.acked(99) and window.read == 3 and not window.unacked  # never past what was sent


def test_a_window_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Window(0)


def test_the_inbox_keeps_order_and_drops_duplicates_and_gaps() -> None:
    inbox = Inbox()
    assert inbox.arrived(0, b"a") and inbox.arrived(1, b"b")
    assert not inbox.arrived(3, b"d")  # a gap: dropped, the writer sends it all again
    assert not inbox.arrived(1, b"b")  # sent again: dropped
    assert inbox.arrived(2, b"c") and inbox.arrived(3, b"d")
    assert [inbox.take() for _ in range(4)] == [b"a", b"b", b"c", b"d"]


def test_the_reader_reports_every_few_items_and_before_it_waits() -> None:
    inbox = Inbox()
    for seq in range(ACK_EVERY + 1):
        inbox.arrived(seq, b"x")
    inbox.take()
    assert inbox.ack_due(waiting=False) is None  # one item behind: not yet
    assert inbox.ack_due(waiting=True) == 1  # about to wait: say where it is
    for _ in range(ACK_EVERY):
        inbox.take()
    assert inbox.ack_due(waiting=False) == ACK_EVERY + 1
    assert inbox.ack_due(waiting=True) is None  # nothing new to say


def test_a_duplicate_makes_the_reader_say_its_position_again() -> None:
    # The writer sent again: it did not hear the last report (lost), so the reader repeats it.
    inbox = Inbox()
    inbox.arrived(0, b"a")
    inbox.take()
    assert inbox.ack_due(waiting=True) == 1
    inbox.arrived(0, b"a")
    assert inbox.ack_due(waiting=True) == 1


def test_a_rerun_that_yields_from_the_start_again_goes_on_from_the_reader_position() -> None:
    # The task ran again elsewhere (its worker was lost): the new run numbers from 0 again.
    inbox = Inbox()
    for seq in range(3):
        inbox.arrived(seq, bytes([seq]))
        inbox.take()
    rerun = Window(3)
    for n in range(3):  # what the reader has had already: dropped
        assert not inbox.arrived(rerun.push(bytes([n])), bytes([n]))
    assert rerun.full
    due = inbox.ack_due(waiting=True)
    assert due == 3 and rerun.acked(due)  # the rerun's window opens at once
    assert inbox.arrived(rerun.push(b"\x03"), b"\x03") and inbox.take() == b"\x03"
