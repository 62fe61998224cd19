"""A deep backlog's tail, kept encoded (``zq.core.spill``), as plain synchronous functions.

Each ledger here keeps 2 pending tasks as entries: the third added at the back of a queue waits
encoded.
"""

import msgspec

from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg

A, P = b"exec-a", b"producer-p"


def task(i: int, name: str = "t", **labels: object) -> TaskMsg:
    return TaskMsg(f"id{i}", name, f"args{i}".encode(), dict(labels), "q", attempt=0)


def filled(count: int, name: str = "t") -> Ledger:
    ledger = Ledger(spill_after=2)
    for i in range(count):
        assert ledger.submit(task(i, name), origin=P if i % 2 else None, at=100.0 + i)
    return ledger


def encoded(ledger: Ledger) -> set[str]:
    return {i for i, e in ledger._tasks.items() if isinstance(e, bytes)}


def taken(ledger: Ledger, credit: int) -> list[TaskMsg]:
    ledger.join(A, ["t", "u"], [], credit)
    return [t for _, batch in ledger.dispatch() for t in batch]


def test_past_the_threshold_tasks_wait_encoded_and_come_out_whole_and_in_order() -> None:
    ledger = filled(6)
    assert encoded(ledger) == {"id2", "id3", "id4", "id5"}
    assert ledger.pending_count == 6 and ledger.pending_ids() == {f"id{i}" for i in range(6)}
    assert ledger.census() == {"q": {"pending": {0: 6}, "delayed": 0, "running": 0}}
    out = taken(ledger, credit=10)  # id, name, arguments, labels, queue; the lease's attempt
    assert out == [msgspec.structs.replace(task(i), attempt=1) for i in range(6)]
    assert encoded(ledger) == set() and ledger.pending_count == 0
    assert [ledger.origin_of(f"id{i}") for i in (2, 3)] == [(True, None), (True, P)]
    assert ledger.entry("id5") is not None and ledger.entry("id5").kicked_at == 105.0  # type: ignore[union-attr]


def test_a_head_is_refilled_as_far_as_the_credit_reaches_and_later_tasks_stay_behind() -> None:
    ledger = filled(5)
    assert [t.task_id for t in taken(ledger, credit=3)] == ["id0", "id1", "id2"]
    ledger.submit(task(9))  # behind the tail, whatever the count
    assert encoded(ledger) == {"id3", "id4", "id9"}
    ledger.grant(A, 10)
    assert [t.task_id for _, b in ledger.dispatch() for t in b] == ["id3", "id4", "id9"]


def test_an_encoded_task_can_be_explained_cancelled_and_completed_by_id() -> None:
    ledger = filled(6)
    entry = ledger.entry("id4")
    assert entry is not None and entry.holder is None and entry.origin is None
    assert ledger.ahead_of(entry) == 4
    assert ledger.cancel("id3").outcome == "cancelled"
    late = ledger.complete(A, "id4")  # a result for a task never leased: it ends it
    assert late.outcome == "accepted" and late.task == task(4)  # (never leased: attempt 0)
    assert ledger.cancel("id3").outcome == "unknown"
    assert ledger.pending_count == 4
    assert [t.task_id for t in taken(ledger, credit=10)] == ["id0", "id1", "id2", "id5"]


def test_a_task_requeued_at_the_front_goes_before_the_tail() -> None:
    ledger = filled(4)
    assert [t.task_id for t in taken(ledger, credit=1)] == ["id0"]
    lost = ledger.lose(A)
    assert lost.requeued == ["id0"]
    assert [t.task_id for t in taken(ledger, credit=10)] == ["id0", "id1", "id2", "id3"]


def test_a_duplicate_of_an_encoded_task_is_refused_and_held_by_lists_it() -> None:
    ledger = filled(4)
    assert not ledger.submit(task(3), origin=P)
    assert sorted(t.task_id for t in ledger.held_by(lambda origin: origin == P)) == ["id1", "id3"]


def test_labels_msgpack_cannot_carry_wait_as_an_object_in_their_turn() -> None:
    ledger = filled(3)
    odd = task(7, marker=object())
    looped = task(8)
    looped.labels["self"] = looped.labels
    ledger.submit(odd)
    ledger.submit(looped)
    numbered = task(9)
    numbered.labels[1] = 2  # type: ignore[index]  # (not a str: kept as it came)
    ledger.submit(numbered)
    assert encoded(ledger) == {"id2", "id9"}
    out = taken(ledger, credit=10)
    assert [t.task_id for t in out] == ["id0", "id1", "id2", "id7", "id8", "id9"]
    assert out[3] is odd and out[4] is looped and out[5].labels == {1: 2}


def test_priorities_and_concurrency_keys_keep_their_rules_behind_a_tail() -> None:
    ledger = Ledger(spill_after=2)
    for i in range(4):
        ledger.submit(task(i, "t"))
    ledger.submit(task(10, "u", priority=5))
    ledger.submit(task(11, "u", concurrency_key="k", max_concurrency=1))
    ledger.submit(task(12, "u", concurrency_key="k", max_concurrency=1))
    assert encoded(ledger) >= {"id10", "id11", "id12"}
    out = [t.task_id for t in taken(ledger, credit=10)]
    assert out[0] == "id10"  # the higher priority first
    assert "id11" in out and "id12" not in out  # one of key k at a time
    assert ledger.complete(A, "id11").outcome == "accepted"
    ledger.grant(A, 1)
    assert [t.task_id for _, b in ledger.dispatch() for t in b] == ["id12"]
