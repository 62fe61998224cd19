"""The supervisor's pure decisions: signal counting, reload bursts in virtual time, jitter."""

import pytest

from zq.core.worker_policy import ReloadBurst, SignalAction, jittered, signal_action

G, C, K = SignalAction.GRACEFUL, SignalAction.CANCEL, SignalAction.KILL


@pytest.mark.parametrize(
    ("hardkill", "actions"),
    [(3, [G, C, K, K]), (2, [G, K, K]), (1, [K, K]), (5, [G, C, C, C, K])],
)
def test_the_nth_signal_is_the_hard_kill(hardkill: int, actions: list[SignalAction]) -> None:
    assert [signal_action(n, hardkill) for n in range(1, len(actions) + 1)] == actions


def test_hardkill_count_must_be_positive() -> None:
    with pytest.raises(ValueError):
        signal_action(1, 0)


def test_a_burst_of_changes_is_one_reload_after_it_goes_quiet() -> None:
    burst = ReloadBurst(quiet_s=0.5)
    assert not burst.due(0.0)  # nothing changed
    check = burst.change(10.0)
    assert check == 10.5
    burst.change(10.2)
    burst.change(10.4)  # still the same burst
    assert not burst.due(10.5)  # 0.1 s after the last change
    assert burst.due(10.9)
    assert not burst.due(11.5), "a burst reloads once"
    burst.change(20.0)
    assert burst.due(20.5), "a later change is a new burst"


def test_jitter_adds_zero_to_jitter() -> None:
    assert jittered(10, 0, 0.99) == 10
    assert [jittered(10, 3, d) for d in (0.0, 0.25, 0.5, 0.999)] == [10, 11, 12, 13]
    with pytest.raises(ValueError):
        jittered(10, -1, 0.5)
