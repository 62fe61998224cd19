"""The ledger's rule 11, cancelling, as plain synchronous functions."""

from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg

A = b"exec-a"


def task(i: int, **labels: object) -> TaskMsg:
    return TaskMsg(task_id=f"id{i}", task_name="t", payload=b"", labels=dict(labels))


def leased(count: int) -> Ledger:
    """A ledger with ``count`` tasks (id0, id1...) leased to executor A."""
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    for i in range(count):
        ledger.submit(task(i))
    ledger.dispatch()
    return ledger


def test_a_pending_or_delayed_task_leaves_at_once_and_is_never_dispatched() -> None:
    ledger = Ledger()
    ledger.submit(task(0))
    ledger.submit(task(1, priority=5))
    ledger.submit(task(2), due=10.0)
    assert ledger.cancel("id0").outcome == "cancelled"
    assert ledger.cancel("id1").outcome == "cancelled"
    done = ledger.cancel("id2")
    assert done.outcome == "cancelled" and done.task is not None and done.task.task_id == "id2"
    assert ledger.pending_count == ledger.delayed_count == 0
    assert ledger.release(20.0) == 0
    ledger.join(A, ["t"], [], credit=5)
    assert ledger.dispatch() == []
    assert ledger.cancel("id0").outcome == "unknown"  # idempotent: it is simply gone


def test_a_leased_task_is_marked_and_its_result_ends_it() -> None:
    ledger = leased(1)
    first = ledger.cancel("id0")
    assert (first.outcome, first.holder) == ("cancelling", A)
    assert ledger.cancel("id0").outcome == "cancelling"  # asked twice: told twice, no harm
    assert not ledger.submit(task(0), origin=A)  # a retry it kicks is not its successor
    assert ledger.complete(A, "id0").outcome == "accepted"
    assert not ledger.holds("id0")


def test_a_cancelled_lease_never_goes_back_to_a_queue() -> None:
    ledger = leased(3)
    ledger.cancel("id0")
    ledger.cancel("id1")
    lost = ledger.lose(A)
    assert lost.requeued == ["id2"]
    assert [t.task_id for t, _ in lost.cancelled] == ["id0", "id1"]
    assert not ledger.holds("id0") and ledger.pending_ids() == {"id2"}


def test_a_cancelled_lease_handed_back_in_a_bye_ends() -> None:
    ledger = leased(2)
    ledger.cancel("id1")
    left = ledger.leave(A, ["id0", "id1"])
    assert left.requeued == ["id0"]
    assert [t.task_id for t, _ in left.cancelled] == ["id1"]
