"""Task dependencies, decided without the dispatcher (``zq.core.dependencies``)."""

from zq.core.dependencies import HELD, Dependencies
from zq.core.ledger import Ledger
from zq.core.messages import ErrorInfo, ResultMsg, TaskMsg

OK = ResultMsg("a", False, b"", 0.1)


def failed(task_id: str, qualname: str = "ValueError") -> ResultMsg:
    return ResultMsg(task_id, True, b"", 0.1, {}, ErrorInfo("builtins", qualname, "no"))


def test_a_task_waits_for_running_dependencies_and_runs_after_the_last() -> None:
    deps = Dependencies()
    results = {"a": OK}
    verdict = deps.arrived("t", ["a", "b", "c"], results.get, lambda i: i in ("b", "c"))
    assert verdict.hold and deps.waits_for("t") == ["b", "c"]
    assert deps.finished(ResultMsg("b", False, b"", 0.1)).run == []
    assert deps.finished(ResultMsg("c", False, b"", 0.1)).run == ["t"]
    assert deps.waiters == {} and deps.waits_for("t") == []


def test_a_failed_cancelled_or_unknown_dependency_fails_the_task() -> None:
    deps = Dependencies()
    results = {"bad": failed("bad"), "gone": failed("gone", "TaskCancelledError")}
    assert "failed (ValueError: no)" in str(deps.arrived("t", ["bad"], results.get, bool).reason)
    assert "was cancelled" in str(deps.arrived("t", ["gone"], results.get, bool).reason)
    unknown = deps.arrived("t", ["x"], results.get, lambda _: False).reason
    assert unknown is not None and "unknown" in unknown
    assert deps.arrived("u", ["b", "c"], {}.get, lambda _: True).hold
    released = deps.finished(failed("b"))
    assert released.fail and released.fail[0][0] == "u" and deps.waiters == {}


def test_a_held_task_is_never_due_until_released() -> None:
    ledger = Ledger()
    ledger.join(b"e", ["n"], [], 1)
    ledger.submit(TaskMsg("t", "n", b""), due=HELD)
    assert ledger.next_due() is None and ledger.release(1e300) == 0
    assert ledger.dispatch() == [] and ledger.delayed_count == 1
    assert ledger.release_one("t") and not ledger.release_one("t")
    assert [task.task_id for _, tasks in ledger.dispatch() for task in tasks] == ["t"]
