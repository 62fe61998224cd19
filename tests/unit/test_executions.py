"""Counting executions beyond the first (pure, synchronous)."""

from __future__ import annotations

from zq.core.executions import Executions


def make() -> tuple[Executions, dict[str, int]]:
    """The counter, and the runs of the results kept (what the result store holds)."""
    kept: dict[str, int] = {}
    return Executions(kept.get), kept


def test_a_second_run_is_a_duplicate_and_the_same_run_sent_again_is_not() -> None:
    runs, kept = make()
    assert runs.finished("t", 7) == 0
    kept["t"] = 7
    assert runs.again("t", 7) == "resent"
    assert runs.again("t", 8) == "duplicate"
    assert runs.again("t", 8) == "resent"  # that second run, sent once more
    assert runs.again("t", 9) == "duplicate"


def test_runs_resent_while_the_task_lives_count_when_it_ends() -> None:
    runs, kept = make()
    runs.early("t", 1)  # a result lost with a connection, resent; the task ran again
    runs.early("t", 1)
    assert runs.finished("t", 2) == 1
    kept["t"] = 2
    assert runs.again("t", 1) == "resent"  # that early run, sent once more
    runs.early("u", 3)  # resent, and the same run then ends the task
    assert runs.finished("u", 3) == 0


def test_unknown_results_are_not_duplicates_and_memory_is_bounded() -> None:
    runs, kept = make()
    assert runs.again("never", 1) == "unknown"
    small = Executions(kept.get, memory=1)
    kept.update(a=1, b=1)
    assert small.again("a", 2) == "duplicate"
    assert small.again("b", 2) == "duplicate"  # "a"'s extra runs are forgotten now
    assert small.again("a", 2) == "duplicate"


def test_run_zero_from_an_older_peer_counts_each_time() -> None:
    runs, kept = make()
    kept["t"] = 0
    assert runs.again("t", 0) == "duplicate"
    assert runs.again("t", 0) == "duplicate"


def test_a_dead_lettered_task_forgets_its_early_runs() -> None:
    runs, _ = make()
    runs.early("t", 1)
    runs.dropped("t")
    assert runs.finished("t", 2) == 0
