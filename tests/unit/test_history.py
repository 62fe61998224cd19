"""The task history: bounded, runs of a retried task kept together, records built on demand."""

from zq.core.history import History, base, describe, record, state_of
from zq.core.messages import ErrorInfo, ResultMsg, TaskMsg

WORKERS = {b"w1": "pid 1 on a", b"w2": "pid 2 on b"}


def task(i: int, name: str = "app:t") -> TaskMsg:
    return TaskMsg(f"t{i}", name, b"args", {"priority": 1})


def ok(task_id: str, log: str | None = None) -> ResultMsg:
    return ResultMsg(task_id, False, b"value", 0.5, log=log)


def failed(task_id: str, message: str) -> ResultMsg:
    error = ErrorInfo("builtins", "ValueError", message, traceback="Traceback...\nValueError")
    return ResultMsg(task_id, True, b"", 0.25, error=error, log="a line\nanother")


def as_record(raw: object) -> dict[str, object]:
    return record(raw, lambda at: 1000.0 + at, WORKERS.get, args=True)  # type: ignore[arg-type]


def test_a_retried_task_has_each_run_in_order_with_its_worker_error_and_log() -> None:
    history = History(10)
    history.retried("t1", (failed("t1", "first"), b"w1", 1.0, 2.0))
    history.retried("t1", (failed("t1", "second"), b"w2", 2.0, 3.0))
    assert [run[1] for run in history.runs_of("t1")] == [b"w1", b"w2"]
    raw = history.finished(task(1), "", ok("t1", "done"), b"w1", 3.0, 4.0, 0.5)
    rec = as_record(raw)
    assert rec["state"] == "succeeded" and rec["kicked_at"] == 1000.5
    assert rec["finished_at"] == 1004.0 and rec["result"] == b"value" and rec["args"] == b"args"
    attempts = rec["attempts"]
    assert isinstance(attempts, list)
    assert [a["worker"] for a in attempts] == ["pid 1 on a", "pid 2 on b", "pid 1 on a"]
    assert [a["error"] and a["error"]["message"] for a in attempts] == ["first", "second", None]
    assert attempts[0]["log"] == ["a line", "another"] and attempts[2]["log"] == ["done"]
    assert attempts[1]["assigned_at"] == 1002.0 and attempts[1]["run_time"] == 0.25
    assert history.runs_of("t1") == []


def test_the_oldest_go_past_the_bound_and_a_rerun_moves_to_the_newest() -> None:
    history = History(3)
    for i in range(5):
        history.finished(task(i), "", ok(f"t{i}"), b"w1", 1.0, 2.0, 0.0)
    assert len(history) == 3 and history.get("t0") is None and history.get("t1") is None
    history.finished(task(2), "", failed("t2", "again"), b"w1", 5.0, 6.0, 0.0)
    assert [r[0].task_id for r in history.newest()] == ["t2", "t4", "t3"]  # type: ignore[index]


def test_a_history_of_zero_keeps_nothing() -> None:
    history = History(0)
    history.retried("t1", (failed("t1", "x"), b"w1", 1.0, 2.0))
    history.finished(task(1), "cancelled", None, None, 0.0, 1.0, 0.0, "cancelled")
    assert len(history) == 0 and history.runs_of("t1") == []


def test_a_run_replaced_by_its_retry_shows_what_failed() -> None:
    replaced = ErrorInfo(
        "zq.exceptions", "NoResultError", "Task has no result",
        attrs={"failed_type": "ValueError", "failed_message": "boom"}, traceback="tb",
    )  # fmt: skip
    assert describe(replaced) == {"type": "ValueError", "message": "boom", "traceback": "tb"}
    other = ErrorInfo("app.errors", "Refused", "no")
    assert describe(other)["type"] == "app.errors.Refused"


def test_the_state_is_the_result_s_unless_given() -> None:
    history = History(5)
    history.finished(task(1), "", failed("t1", "x"), b"w1", 1.0, 2.0, 0.0)
    history.finished(task(2), "dead", None, None, 0.0, 3.0, 0.0, "delivered 5 times")
    rejected = ErrorInfo("zq.exceptions", "TaskRejectedError", "not for us")
    history.finished(task(3), "", ResultMsg("t3", True, b"", 0.1, error=rejected), b"w1", 1, 2, 0)
    states = {r[0].task_id: state_of(r) for r in history.newest()}  # type: ignore[index]
    assert states == {"t1": "failed", "t2": "dead", "t3": "dead"}
    rec = as_record(history.get("t3"))
    assert rec["reason"] == "rejected by the task: not for us" and len(rec["attempts"]) == 1
    assert as_record(history.get("t2"))["attempts"] == []


def test_arguments_only_when_asked() -> None:
    assert base(task(1), "pending", None, args=False)["args"] is None
    assert base(task(1), "pending", None, args=True)["args"] == b"args"
