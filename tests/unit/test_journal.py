"""The journal's log: what a reopened file gives back, and that the log does not grow."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from zq.core.messages import ResultMsg, TaskMsg
from zq.storage import journal as journal_module
from zq.storage.journal import Changes, Journal

TTL = 3600.0


def task(task_id: str) -> TaskMsg:
    return TaskMsg(task_id=task_id, task_name="t", payload=b"", labels={})


def result(task_id: str, value: bytes = b"1") -> ResultMsg:
    return ResultMsg(task_id=task_id, is_err=False, payload=value, execution_time=0.0)


def commit(
    j: Journal,
    added: Sequence[str] = (),
    done: Sequence[str] = (),
    *,
    results: Sequence[ResultMsg] = (),
    dead: Sequence[tuple[str, str, bytes | None, TaskMsg]] = (),
    undead: Sequence[str] = (),
) -> None:
    j.commit(
        Changes(
            added={i: (b"o", task(i)) for i in added},
            done=list(done),
            results=list(results),
            dead=list(dead),
            undead=list(undead),
        )
    )


def reopen(j: Journal) -> tuple[Journal, list[str]]:
    j.close()
    again = Journal(j.path)
    return again, [t.task_id for _, t in again.load(TTL).tasks]


def rows(path: str, table: str) -> int:
    with sqlite3.connect(path) as db:
        (n,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


@pytest.fixture
def j(tmp_path: Path) -> Journal:
    return Journal(str(tmp_path / "zq.db"))


def test_unfinished_tasks_come_back_in_acceptance_order(j: Journal) -> None:
    commit(j, ["a", "b"])
    commit(j, ["c"], done=["a"])
    commit(j, ["d"])
    j, left = reopen(j)
    assert left == ["b", "c", "d"]
    j.close()


def test_a_row_goes_once_all_its_tasks_finished_and_finished_ids_follow(j: Journal) -> None:
    commit(j, ["a", "b"])
    commit(j, ["c"], done=["a"])
    assert rows(j.path, "accepted") == 2
    commit(j, done=["b"])  # the first row is empty now
    assert rows(j.path, "accepted") == 1
    commit(j, done=["c"])
    commit(j, ["e"])  # the finished ids of the commits before are useless now
    assert rows(j.path, "accepted") == 1
    assert rows(j.path, "finished") == 0
    j, left = reopen(j)
    assert left == ["e"]
    j.close()


def test_done_for_a_task_never_written_is_ignored(j: Journal) -> None:
    commit(j, done=["never"])
    assert rows(j.path, "finished") == 0


def test_a_replayed_dead_letter_comes_back_once(j: Journal) -> None:
    commit(j, ["x"])
    commit(j, done=["x"], dead=[("x", "delivery limit", b"o", task("x"))])
    commit(j, ["x"], undead=["x"])  # replayed under the same id
    j, left = reopen(j)
    assert left == ["x"]
    assert j.load(TTL).dead == []
    j.close()


def test_accepted_again_while_unfinished_counts_once(j: Journal) -> None:
    commit(j, ["x", "y"])
    commit(j, ["x"])
    commit(j, done=["x", "y"])
    assert rows(j.path, "accepted") == 0
    j, left = reopen(j)
    assert left == []
    j.close()


def test_a_long_unfinished_task_is_rewritten_forward(
    j: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "COMPACT_AFTER", 5)
    commit(j, ["slow", "a"])
    for n in range(40):  # busy traffic behind the slow task
        commit(j, [f"t{n}"], done=[f"t{n - 1}"] if n else ["a"])
    assert rows(j.path, "accepted") <= 3
    assert rows(j.path, "finished") <= 7
    j, left = reopen(j)
    assert sorted(left) == ["slow", "t39"]
    j.close()


def test_recovered_tasks_finish_and_leave_the_log(j: Journal) -> None:
    commit(j, ["a", "b"])
    j, left = reopen(j)
    assert left == ["a", "b"]
    commit(j, done=["a", "b"])
    assert rows(j.path, "accepted") == 0
    j, left = reopen(j)
    assert left == []
    j.close()


def test_the_latest_result_wins_and_old_ones_expire(j: Journal) -> None:
    commit(j, results=[result("r", b"1")])
    commit(j, results=[result("r", b"2"), result("s")])
    j.close()
    j = Journal(j.path)
    assert {r.task_id: r.payload for r in j.load(TTL).results} == {"r": b"2", "s": b"1"}
    assert j.load(-1.0).results == []
    j.close()


def test_a_file_from_the_old_format_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY)")
    with pytest.raises(ValueError, match="another version of zq"):
        Journal(path)
