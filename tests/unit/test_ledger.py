"""The ledger as plain synchronous functions: no loop, no socket, no clock."""

import pytest

from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg
from zq.exceptions import RemoteProtocolError

A, B = b"exec-a", b"exec-b"


def task(i: int, name: str = "t", queue: str = "default") -> TaskMsg:
    return TaskMsg(task_id=f"id{i}", task_name=name, payload=b"", queue=queue)


def ids(batches: list[tuple[bytes, list[TaskMsg]]]) -> dict[bytes, list[str]]:
    return {peer: [t.task_id for t in batch] for peer, batch in batches}


def test_pending_tasks_wait_for_an_executor_then_go_within_its_credit() -> None:
    ledger = Ledger()
    for i in range(5):
        assert ledger.submit(task(i))
    assert ledger.dispatch() == []
    ledger.join(A, ["t"], [], credit=3)
    assert ids(ledger.dispatch()) == {A: ["id0", "id1", "id2"]}
    assert ledger.dispatch() == []  # no credit left
    assert ledger.pending_count == 2 and ledger.leased_count == 3
    ledger.grant(A, 1)
    assert ids(ledger.dispatch()) == {A: ["id3"]}


def test_the_executor_with_the_most_room_goes_first_and_ties_keep_the_join_order() -> None:
    """A lone task goes to the same idle executor (a warm process); a trickle spreads."""
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=10)
    ledger.join(B, ["t"], [], credit=10)
    for i in range(3):  # one at a time, each finished before the next: the first to join
        ledger.submit(task(i))
        assert ids(ledger.dispatch()) == {A: [f"id{i}"]}
        ledger.complete(A, f"id{i}")
        ledger.grant(A, 1)
    ledger.submit(task(3))
    assert ids(ledger.dispatch()) == {A: ["id3"]}
    ledger.submit(task(4))  # id3 still runs on A: B has more room
    assert ids(ledger.dispatch()) == {B: ["id4"]}
    ledger.submit(task(5))  # one each now: a tie, and A joined first
    assert ids(ledger.dispatch()) == {A: ["id5"]}
    for i in range(6, 9):  # B has the most room: it takes what it has room for
        ledger.submit(task(i))
    assert ids(ledger.dispatch()) == {B: ["id6", "id7", "id8"]}


def test_duplicate_submit_of_a_task_in_flight_is_refused() -> None:
    ledger = Ledger()
    assert ledger.submit(task(1))
    assert not ledger.submit(task(1))
    assert ledger.pending_count == 1


def test_first_result_wins_and_later_ones_are_duplicates() -> None:
    ledger = Ledger()
    ledger.submit(task(1), origin=b"producer-2")
    ledger.join(A, ["t"], [], 1)
    ledger.dispatch()
    done = ledger.complete(A, "id1")
    assert done.outcome == "accepted" and done.origin == b"producer-2"
    assert ledger.complete(A, "id1").outcome == "duplicate"
    assert ledger.leased_count == 0


def test_tasks_go_only_to_executors_that_have_the_task_and_serve_the_queue() -> None:
    ledger = Ledger()
    ledger.submit(task(1, name="email", queue="mail"))
    ledger.submit(task(2, name="report"))
    ledger.join(A, ["report"], [], 10)
    ledger.join(B, ["email"], ["other"], 10)
    assert ids(ledger.dispatch()) == {A: ["id2"]}
    ledger.join(b"c", ["email"], ["mail"], 10)
    assert ids(ledger.dispatch()) == {b"c": ["id1"]}


def test_a_lost_executor_puts_its_leases_back_in_front_in_order() -> None:
    ledger = Ledger()
    for i in range(4):
        ledger.submit(task(i))
    ledger.join(A, ["t"], [], 2)
    ledger.dispatch()
    lost = ledger.lose(A)
    assert lost.requeued == ["id0", "id1"] and lost.dead == []
    ledger.join(B, ["t"], [], 10)
    assert ids(ledger.dispatch()) == {B: ["id0", "id1", "id2", "id3"]}


def test_a_late_result_from_a_lost_executor_still_counts_once() -> None:
    ledger = Ledger()
    ledger.submit(task(1))
    ledger.join(A, ["t"], [], 1)
    ledger.dispatch()
    ledger.lose(A)
    assert ledger.complete(A, "id1").outcome == "accepted"  # it had run after all
    assert ledger.pending_count == 0
    ledger.join(B, ["t"], [], 1)
    assert ledger.dispatch() == []


def test_a_task_that_keeps_losing_its_executor_is_dead_lettered() -> None:
    ledger = Ledger(delivery_limit=2)
    ledger.submit(task(1))
    for n, peer in enumerate([A, B]):
        ledger.join(peer, ["t"], [], 1)
        assert ids(ledger.dispatch()) == {peer: ["id1"]}
        lost = ledger.lose(peer)
        if n == 0:
            assert lost.requeued == ["id1"]
    assert [d.task.task_id for d in lost.dead] == ["id1"]
    assert "delivery limit 2" in lost.dead[0].reason
    assert ledger.pending_count == 0 and ledger.leased_count == 0


def test_bye_returns_unstarted_tasks_at_once_and_keeps_running_ones_leased() -> None:
    ledger = Ledger()
    for i in range(3):
        ledger.submit(task(i))
    ledger.join(A, ["t"], [], 3)
    ledger.dispatch()
    assert ledger.leave(A, ["id1", "id2"]).requeued == ["id1", "id2"]
    assert ledger.leases_of(A) == {"id0"}
    ledger.grant(A, 5)  # credit from a leaving executor is ignored
    assert ledger.dispatch() == []
    assert ledger.complete(A, "id0").outcome == "accepted"
    assert not ledger.knows(A)  # gone once its last lease ended


def test_negative_credit_is_the_peers_fault() -> None:
    ledger = Ledger()
    with pytest.raises(RemoteProtocolError):
        ledger.join(A, ["t"], [], -1)
    ledger.join(A, ["t"], [], 0)
    with pytest.raises(RemoteProtocolError):
        ledger.grant(A, -3)


def test_credit_is_spread_over_task_names() -> None:
    ledger = Ledger()
    for i in range(10):
        ledger.submit(task(i, name="x"))
        ledger.submit(task(100 + i, name="y"))
    ledger.join(A, ["x", "y"], [], 4)
    names = [t.task_name for _, batch in ledger.dispatch() for t in batch]
    assert sorted(names) == ["x", "x", "y", "y"]


def test_a_repeated_hello_from_a_registered_session_changes_nothing() -> None:
    ledger = Ledger()
    ledger.submit(task(1))
    assert ledger.join(A, ["t"], [], 1)
    ledger.dispatch()
    assert not ledger.join(A, ["t"], [], 5)
    assert ledger.leases_of(A) == {"id1"} and ledger.credit_of(A) == 0


def test_a_max_deliveries_label_overrides_the_delivery_limit() -> None:
    ledger = Ledger(delivery_limit=5)
    once = TaskMsg("once", "t", b"", labels={"max_deliveries": 1})
    odd = TaskMsg("odd", "t", b"", labels={"max_deliveries": "not a number"})
    ledger.submit(once)
    ledger.submit(odd)
    ledger.join(A, ["t"], [], credit=2)
    ledger.dispatch()
    lost = ledger.lose(A)
    assert [d.task.task_id for d in lost.dead] == ["once"]
    assert "delivery limit 1" in lost.dead[0].reason
    assert lost.requeued == ["odd"]  # a bad label falls back to the default limit


def test_a_task_lost_twice_is_quarantined_so_a_poison_task_dies_alone() -> None:
    ledger = Ledger(delivery_limit=3)
    for i in range(4):
        ledger.submit(task(i))  # id0 is the poison: each executor running it is lost
    for n in range(2):  # twice, the whole batch dies with it
        peer = f"p{n}".encode()
        ledger.join(peer, ["t"], [], credit=10)
        assert sorted(ids(ledger.dispatch())[peer]) == ["id0", "id1", "id2", "id3"]
        assert ledger.lose(peer).dead == []
    ledger.join(A, ["t"], [], credit=10)
    ledger.join(B, ["t"], [], credit=10)
    sent = ids(ledger.dispatch())
    assert all(len(batch) == 1 for batch in sent.values())  # one suspect per executor
    assert ledger.pending_count == 2
    holder_of_poison = next(p for p, batch in sent.items() if batch == ["id0"])
    other = B if holder_of_poison == A else A
    [done] = sent[other]
    assert ledger.complete(other, done).outcome == "accepted"
    lost = ledger.lose(holder_of_poison)
    assert [d.task.task_id for d in lost.dead] == ["id0"]  # the poison, at its limit, alone
    rest = ids(ledger.dispatch())[other]
    assert len(rest) == 1 and ledger.pending_count == 1  # still one suspect at a time


def prioritized(i: int, level: int | str | None, name: str = "t") -> TaskMsg:
    labels = {} if level is None else {"priority": level}
    return TaskMsg(task_id=f"id{i}", task_name=name, payload=b"", labels=labels)


def test_higher_priority_is_leased_first_and_one_priority_keeps_its_order() -> None:
    ledger = Ledger()
    levels = [None, 5, 0, -1, 5, 10, "5", None, -1, 10]
    for i, level in enumerate(levels):
        ledger.submit(prioritized(i, level, name="t" if i % 2 else "u"))
    ledger.join(A, ["t", "u"], [], credit=1)
    order = []
    while ledger.pending_count:
        (_peer, [sent]), *_ = ledger.dispatch()
        order.append(sent.task_id)
        ledger.complete(A, sent.task_id)
        ledger.grant(A, 1)
    assert order[:2] == ["id5", "id9"]  # 10
    assert order[2:5] == ["id1", "id4", "id6"]  # 5 (the string "5" too), in kick order
    assert set(order[5:8]) == {"id0", "id2", "id7"} and order[8:] == ["id3", "id8"]


def test_a_bad_priority_reads_as_none() -> None:
    ledger = Ledger()
    ledger.submit(prioritized(0, "high"))
    ledger.submit(prioritized(1, 1))
    ledger.join(A, ["t"], [], credit=2)
    assert ids(ledger.dispatch()) == {A: ["id1", "id0"]}


def limited(i: int, group: str, most: int = 2) -> TaskMsg:
    labels = {"concurrency_key": group, "max_concurrency": most}
    return TaskMsg(task_id=f"id{i}", task_name="t", payload=b"", labels=labels)


def test_a_concurrency_key_has_at_most_its_limit_leased_across_executors() -> None:
    ledger = Ledger()
    for i in range(6):
        ledger.submit(limited(i, "acct-1"))
    ledger.submit(limited(6, "acct-2", most=1))
    ledger.submit(task(7))  # no key: not limited
    ledger.join(A, ["t"], [], credit=10)
    ledger.join(B, ["t"], [], credit=10)
    sent = [t for _peer, batch in ledger.dispatch() for t in batch]
    assert sorted(t.task_id for t in sent) == ["id0", "id1", "id6", "id7"]
    assert ledger.dispatch() == []  # acct-1 and acct-2 are full
    holder = next(p for p in (A, B) if "id0" in ledger.leases_of(p))
    ledger.complete(holder, "id0")  # a slot of acct-1 frees
    assert [t.task_id for _p, b in ledger.dispatch() for t in b] == ["id2"]
    gone = next(p for p in (A, B) if "id1" in ledger.leases_of(p))
    lost = ledger.lose(gone)
    assert "id1" in lost.requeued  # the slots of its leases freed with them
    ledger.dispatch()
    leased = ledger.leases_of(A if gone == B else B)
    assert "id1" in leased  # back in front of its queue, and leased again
    assert len({"id1", "id2", "id3", "id4", "id5"} & leased) == 2 and "id0" not in leased


def test_a_handed_back_lease_frees_its_slot() -> None:
    ledger = Ledger()
    for i in range(3):
        ledger.submit(limited(i, "k", most=1))
    ledger.join(A, ["t"], [], credit=5)
    assert ids(ledger.dispatch()) == {A: ["id0"]}
    assert ledger.leave(A, ["id0"]).requeued == ["id0"]
    ledger.join(B, ["t"], [], credit=5)
    assert ids(ledger.dispatch()) == {B: ["id0"]}


def test_census_counts_pending_by_queue_and_priority_delayed_and_running() -> None:
    ledger = Ledger()
    ledger.join(b"e", ["n"], [], 1)
    ledger.submit(TaskMsg("a", "n", b""))
    ledger.submit(TaskMsg("b", "n", b""))
    ledger.submit(TaskMsg("c", "n", b"", {"priority": 3}, "reports"))
    ledger.submit(TaskMsg("d", "n", b"", {}, "reports"), due=100.0)
    ledger.dispatch()  # the one slot takes the highest priority first
    assert ledger.census() == {
        "default": {"pending": {0: 2}, "delayed": 0, "running": 0},
        "reports": {"pending": {}, "delayed": 1, "running": 1},
    }
