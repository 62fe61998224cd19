"""zq's own labels: one pure home (zq.core.labels), checked where the user writes them."""

from __future__ import annotations

import pytest

from zq import InMemoryBroker
from zq.core import labels
from zq.core.labels import LabelError


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("delay", "soon"),
        ("delay", -1),
        ("delay", True),
        ("delay", float("nan")),
        ("timeout", 0),
        ("timeout", "fast"),
        ("max_deliveries", 0),
        ("max_deliveries", 2.5),
        ("max_deliveries", "many"),
        ("ack_type", "whenever"),
        ("ack_type", 3),
        ("queue", ""),
        ("queue", 5),
        ("priority", "high"),
        ("priority", 1.5),
        ("priority", True),
    ],
)
def test_a_bad_value_is_refused_with_the_label_named(name: str, value: object) -> None:
    with pytest.raises(LabelError, match=f"label '{name}' must be"):
        labels.check({name: value})


@pytest.mark.parametrize(
    "good",
    [
        {"delay": 0},
        {"delay": 1.5},
        {"delay": "2"},
        {"timeout": 3},
        {"timeout": None},
        {"max_deliveries": 1},
        {"max_deliveries": "4"},
        {"ack_type": "WHEN_RECEIVED"},
        {"ack_type": "manual"},
        {"queue": "emails"},
        {"priority": 10},
        {"priority": -3},
        {"priority": "2"},
        {"anything": object()},  # not zq's: any value travels
    ],
)
def test_good_values_and_other_labels_pass(good: dict[str, object]) -> None:
    labels.check(good)


def test_the_readers_take_a_bad_value_as_not_set() -> None:
    assert labels.delay_s({"delay": "2"}) == 2.0
    assert labels.delay_s({"delay": 0}) is None
    assert labels.delay_s({"delay": "soon"}) is None
    assert labels.timeout_s({"timeout": 0.5}) == 0.5
    assert labels.timeout_s({}) is None
    assert labels.max_deliveries({"max_deliveries": "3"}, 10) == 3
    assert labels.max_deliveries({"max_deliveries": "x"}, 10) == 10
    assert labels.max_deliveries({}, 10) == 10
    assert labels.ack_type({"ack_type": "When_Saved"}, "when_executed") == "when_saved"
    assert labels.ack_type({"ack_type": "nope"}, "when_executed") == "when_executed"
    assert labels.priority({"priority": "7"}) == 7
    assert labels.priority({"priority": "high"}) == 0
    assert labels.priority({}) == 0


def test_a_bad_label_fails_at_the_decorator_naming_this_file() -> None:
    broker = InMemoryBroker()
    with pytest.raises(LabelError) as raised:

        @broker.task(delay="soon")
        async def late() -> None: ...

    message = str(raised.value)
    assert "label 'delay' must be a number of seconds >= 0, not 'soon'" in message
    assert "test_labels.py:" in message and "late" in message
    assert broker.find_task(f"{__name__}:late") is None  # nothing half-registered


def test_a_bad_label_fails_at_with_labels_naming_this_file() -> None:
    broker = InMemoryBroker()

    @broker.task
    async def fine() -> None: ...

    with pytest.raises(LabelError, match=r"with_labels\(\.\.\.\) at .*test_labels.py:\d+: label"):
        fine.kicker().with_labels(max_deliveries=0)


def test_unique_key_is_a_non_empty_string_and_names_the_shared_id() -> None:
    labels.check({"unique_key": "k"})
    for bad in ("", 3, None):
        with pytest.raises(LabelError, match="label 'unique_key' must be a non-empty string"):
            labels.check({"unique_key": bad})
    assert labels.unique_id("app:t", {"unique_key": "k"}) == "unique:app:t:k"
    assert labels.unique_id("app:t", {}) is None


def test_concurrency_labels_are_checked_and_read() -> None:
    labels.check({"concurrency_key": "acct-1", "max_concurrency": 4})
    with pytest.raises(LabelError, match="label 'max_concurrency' must be a whole number >= 1"):
        labels.check({"max_concurrency": 0})
    with pytest.raises(LabelError, match="label 'concurrency_key' must be a non-empty string"):
        labels.check({"concurrency_key": 7})
    assert labels.concurrency_key({"concurrency_key": "a"}) == "a"
    assert labels.max_concurrency({}) == 1 and labels.max_concurrency({"max_concurrency": "3"}) == 3


def test_rate_limit_key_is_a_non_empty_string() -> None:
    labels.check({"rate_limit": "10/m", "rate_limit_key": "customer-7"})
    with pytest.raises(LabelError, match="label 'rate_limit_key' must be a non-empty string"):
        labels.check({"rate_limit_key": ""})


def test_unique_for_is_a_positive_number_of_seconds() -> None:
    labels.check({"unique_key": "k", "unique_for": 30})
    for bad in (0, -1, "soon", True):
        with pytest.raises(LabelError, match="label 'unique_for' must be a number of seconds > 0"):
            labels.check({"unique_for": bad})
    assert labels.unique_for_s({"unique_for": "2.5"}) == 2.5
    assert labels.unique_for_s({}) is None
