"""Successors (retries under the same id), delayed tasks and early acks, in the pure ledger."""

from zq.core.ledger import Ledger
from zq.core.messages import TaskMsg

A, B, PRODUCER = b"exec-a", b"exec-b", b"producer"


def task(i: int, **labels: object) -> TaskMsg:
    return TaskMsg(task_id=f"id{i}", task_name="t", payload=b"", labels=dict(labels))


def leased(ledger: Ledger) -> list[str]:
    return [t.task_id for _, batch in ledger.dispatch() for t in batch]


def test_a_resubmit_by_the_holder_becomes_the_successor_when_the_run_ends() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1), PRODUCER)
    assert leased(ledger) == ["id1"]
    retry = task(1, _retries=1)
    assert not ledger.submit(retry, A)  # not a new task: the successor of the running one
    done = ledger.complete(A, "id1")
    assert (done.outcome, done.origin) == ("retried", PRODUCER)
    assert ledger.pending_count == 1
    [sent] = [t for _, batch in ledger.dispatch() for t in batch]
    assert sent.labels == {"_retries": 1} and sent.attempt == 1  # deliveries start again
    final = ledger.complete(A, "id1")
    assert (final.outcome, final.origin) == ("accepted", PRODUCER)


def test_a_resubmit_by_anyone_else_is_a_duplicate() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1))
    leased(ledger)
    assert not ledger.submit(task(1, again=True), B)
    assert ledger.complete(A, "id1").outcome == "accepted"


def test_if_the_holder_is_lost_after_resubmitting_the_successor_runs() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1))
    leased(ledger)
    ledger.submit(task(1, _retries=1), A)
    lost = ledger.lose(A)
    assert lost.requeued == ["id1"] and not lost.dead
    ledger.join(B, ["t"], [], credit=5)
    [sent] = [t for _, batch in ledger.dispatch() for t in batch]
    assert sent.labels == {"_retries": 1}


def test_delayed_tasks_wait_outside_the_queues_until_released() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1), due=10.0)
    ledger.submit(task(2), due=5.0)
    ledger.submit(task(3))
    assert leased(ledger) == ["id3"]
    assert (ledger.delayed_count, ledger.next_due()) == (2, 5.0)
    assert ledger.release(4.9) == 0
    assert ledger.release(5.0) == 1
    assert leased(ledger) == ["id2"]
    assert ledger.next_due() == 10.0
    assert ledger.release(100.0) == 1 and ledger.next_due() is None
    assert leased(ledger) == ["id1"]
    assert ledger.delayed_count == 0


def test_a_successor_with_a_due_time_is_delayed_and_a_late_result_cancels_it() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1))
    leased(ledger)
    ledger.submit(task(1, delay=5), A, due=15.0)
    assert ledger.complete(A, "id1").outcome == "retried"
    assert ledger.delayed_count == 1 and ledger.pending_count == 0
    assert ledger.complete(B, "id1").outcome == "accepted"  # a result from elsewhere ends it
    assert ledger.delayed_count == 0 and ledger.next_due() is None
    assert ledger.release(20.0) == 0


def test_an_acked_task_whose_executor_is_lost_is_dead_lettered_not_redelivered() -> None:
    ledger = Ledger()
    ledger.join(A, ["t"], [], credit=5)
    ledger.submit(task(1))
    ledger.submit(task(2))
    leased(ledger)
    assert ledger.ack(A, "id1")
    assert not ledger.ack(B, "id2")  # only the holder can ack
    lost = ledger.lose(A)
    assert lost.requeued == ["id2"]
    [letter] = lost.dead
    assert letter.task.task_id == "id1" and letter.error == "TaskLostError"
