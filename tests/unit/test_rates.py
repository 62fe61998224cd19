"""Rate limits in virtual time: no window of one period holds more than N releases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zq.core import labels
from zq.core.labels import LabelError
from zq.core.rates import RateLimits


def test_a_burst_of_n_then_one_window_per_n() -> None:
    limits = RateLimits()
    times = [limits.release_at(("t", ""), 3, 1.0, 0.0) for _ in range(7)]
    assert times == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]


def test_buckets_are_separate_and_a_quiet_bucket_starts_afresh() -> None:
    limits = RateLimits()
    assert limits.release_at(("t", "a"), 1, 1.0, 0.0) == 0.0
    assert limits.release_at(("t", "b"), 1, 1.0, 0.0) == 0.0  # another key: its own bucket
    assert limits.release_at(("t", "a"), 1, 1.0, 0.0) == 1.0
    limits.forget_before(100.0, 3600.0)
    assert limits.release_at(("t", "a"), 1, 1.0, 10.0) == 10.0  # its last release is long past


@given(
    count=st.integers(1, 20),
    period=st.sampled_from([0.5, 1.0, 60.0]),
    arrivals=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=200),
)
def test_no_window_of_one_period_holds_more_than_n(
    count: int, period: float, arrivals: list[float]
) -> None:
    limits = RateLimits()
    releases = [limits.release_at(("t", ""), count, period, at) for at in sorted(arrivals)]
    assert all(r >= a for r, a in zip(releases, sorted(arrivals), strict=True))
    for i, start in enumerate(releases):
        assert sum(1 for r in releases[i:] if r < start + period) <= count


@pytest.mark.parametrize("bad", ["fast", "0/s", "10/d", "10", 10, "-1/s", "1.5/s"])
def test_a_malformed_rate_limit_fails_where_it_is_written(bad: object) -> None:
    with pytest.raises(LabelError, match="label 'rate_limit' must be a rate like"):
        labels.check({"rate_limit": bad})


def test_rates_read() -> None:
    assert labels.rate("100/s") == (100, 1.0) and labels.rate("30 / m") == (30, 60.0)
    assert labels.rate("1000/h") == (1000, 3600.0) and labels.rate("x") is None
