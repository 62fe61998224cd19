"""What a pipeline's results lead to in the dispatcher (``zq.core.workflow``), pure."""

from typing import Any

from zq.core import workflow as wf
from zq.core.messages import ErrorInfo, ResultMsg, TaskMsg


def steps(*kinds: str) -> list[dict[str, Any]]:
    return [
        {"k": k, "n": f"app:{i}", "i": f"s{i}", "l": {"queue": "q"}, "p": None, "x": b"X",
         "e": False}
        for i, k in enumerate(kinds)
    ]  # fmt: skip


def step_task(chain: list[dict[str, Any]], at: int) -> TaskMsg:
    return TaskMsg(chain[at]["i"], chain[at]["n"], b"", {wf.WF: chain, wf.WF_AT: at}, "q")


def ok(task_id: str, payload: bytes = b"R", **labels: Any) -> ResultMsg:
    return ResultMsg(task_id, False, payload, 0.1, labels)


def err(task_id: str, message: str) -> ResultMsg:
    return ResultMsg(task_id, True, b"", 0.1, {}, ErrorInfo("builtins", "ValueError", message))


def test_a_sequential_step_leads_to_the_next_with_the_result_as_its_input() -> None:
    chain = steps("seq", "seq")
    flows = wf.Workflows()
    flows.started(step_task(chain, 0), b"producer")
    assert flows.pending == {"s1": b"producer"}
    then = flows.after(step_task(chain, 0), ok("s0", b"ENCODED"))
    [nxt] = then.submit
    assert (nxt.task_id, nxt.task_name, nxt.payload, nxt.queue) == ("s1", "app:1", b"X", "q")
    assert nxt.labels[wf.IN] == b"ENCODED" and nxt.labels[wf.WF_AT] == 1
    assert flows.after(nxt, ok("s1")) == wf.NOTHING and flows.pending == {}


def test_a_failed_step_gives_the_last_id_its_error() -> None:
    chain = steps("seq", "seq", "seq")
    flows = wf.Workflows()
    flows.started(step_task(chain, 0), None)
    then = flows.after(step_task(chain, 1), err("s1", "boom"))
    [fail] = then.fail
    assert then.submit == [] and (fail.task_id, fail.is_err) == ("s2", True)
    assert fail.error is not None and fail.error.message == "boom"
    assert flows.pending == {}


def test_a_map_step_collects_its_children_in_their_order() -> None:
    chain = steps("seq", "map", "seq")
    flows = wf.Workflows()
    [expand] = flows.after(step_task(chain, 0), ok("s0", b"LIST")).submit
    assert expand.task_name == wf.EXPAND and expand.labels[wf.IN] == b"LIST"
    children = [
        TaskMsg(f"s1.{i}", "app:1", b"X", {wf.GROUP: "s1", wf.GROUP_INDEX: i}) for i in range(3)
    ]
    assert flows.after(children[2], ok("s1.2", b"c")) == wf.NOTHING  # out of order
    assert flows.after(expand, ok(expand.task_id, **{wf.GROUP_SIZE: 3})) == wf.NOTHING
    assert flows.after(children[0], ok("s1.0", b"a")) == wf.NOTHING
    [collect] = flows.after(children[1], ok("s1.1", b"b")).submit
    assert (collect.task_id, collect.task_name) == ("s1", wf.COLLECT)
    assert collect.labels[wf.PARTS] == [(True, b"a", None), (True, b"b", None), (True, b"c", None)]
    assert collect.labels[wf.WF_AT] == 1 and flows.groups == {}
    [last] = flows.after(collect, ok("s1", b"LIST2")).submit  # the collect moves it on
    assert last.task_id == "s2" and last.labels[wf.IN] == b"LIST2"


def test_an_empty_list_collects_at_once_and_a_failed_child_fails_the_pipeline() -> None:
    chain = steps("seq", "filter")
    flows = wf.Workflows()
    [expand] = flows.after(step_task(chain, 0), ok("s0")).submit
    [collect] = flows.after(expand, ok(expand.task_id, **{wf.GROUP_SIZE: 0})).submit
    assert collect.labels[wf.PARTS] == []
    [expand] = flows.after(step_task(chain, 0), ok("s0")).submit
    child = TaskMsg("s1.0", "app:1", b"", {wf.GROUP: "s1", wf.GROUP_INDEX: 0})
    then = flows.after(child, err("s1.0", "bad item"))
    assert [f.task_id for f in then.fail] == ["s1"] and flows.groups == {}
    later = TaskMsg("s1.1", "app:1", b"", {wf.GROUP: "s1", wf.GROUP_INDEX: 1})
    assert flows.after(later, ok("s1.1")) == wf.NOTHING  # the group is gone: ignored


def test_a_step_that_skips_errors_collects_the_others() -> None:
    chain = steps("seq", "map")
    flows = wf.Workflows()
    [expand] = flows.after(step_task(chain, 0), ok("s0")).submit
    flows.after(expand, ok(expand.task_id, **{wf.GROUP_SIZE: 2}))
    bad = TaskMsg("s1.0", "a", b"", {wf.GROUP: "s1", wf.GROUP_INDEX: 0, wf.SKIP: True})
    good = TaskMsg("s1.1", "a", b"", {wf.GROUP: "s1", wf.GROUP_INDEX: 1, wf.SKIP: True})
    assert flows.after(bad, err("s1.0", "x")) == wf.NOTHING
    [collect] = flows.after(good, ok("s1.1", b"g")).submit
    assert collect.labels[wf.PARTS] == [(False, None, None), (True, b"g", None)]


def test_the_last_id_of_an_unfinished_pipeline_is_known_to_fetches() -> None:
    class NoLedger:
        def origin_of(self, task_id: str) -> tuple[bool, bytes | None]:
            return False, None

    chain = steps("seq", "seq")
    flows = wf.Workflows()
    flows.started(step_task(chain, 0), b"p")
    known = flows.origin_of(NoLedger())
    assert known("s1") == (True, b"p") and known("other") == (False, None)


def test_a_group_step_starts_every_member_and_a_member_pipeline_reports_to_it() -> None:
    chain = steps("seq", "seq")
    member_pipe = [
        {"k": "seq", "n": "app:a", "i": "p0", "l": {}, "p": None, "x": b"A", "e": False},
        {"k": "seq", "n": "app:b", "i": "p1", "l": {}, "p": None, "x": b"B", "e": False},
    ]
    chain[1] = {"k": "group", "n": "", "i": "g", "l": {}, "p": None, "x": b"", "e": False,
                "m": [{"k": "seq", "n": "app:t", "i": "m0", "l": {}, "p": None, "x": b"T",
                       "e": False}, {"wf": member_pipe, "i": "p1"}]}  # fmt: skip
    flows = wf.Workflows()
    task, pipe_first = flows.after(step_task(chain, 0), ok("s0", b"IN")).submit
    assert (task.task_id, task.labels[wf.GROUP], task.labels[wf.GROUP_INDEX]) == ("m0", "g", 0)
    assert task.labels[wf.IN] == b"IN" and pipe_first.labels[wf.IN] == b"IN"
    assert pipe_first.task_id == "p0" and wf.GROUP not in pipe_first.labels
    sub = pipe_first.labels[wf.WF]
    assert sub[-1]["l"][wf.GROUP] == "g" and sub[-1]["l"][wf.GROUP_INDEX] == 1
    assert member_pipe[-1]["l"] == {}  # the spec itself is not changed
    assert flows.after(task, ok("m0", b"t")) == wf.NOTHING
    # The member pipeline's middle step fails: the group fails, with its error.
    then = flows.after(pipe_first, err("p0", "sub broke"))
    assert [f.task_id for f in then.fail] == ["p1", "g"] and flows.groups == {}  # g: the last
    assert all(f.error is not None and f.error.message == "sub broke" for f in then.fail)


def test_roots_lead_from_a_step_or_child_out_to_every_workflow_it_is_part_of() -> None:
    outer = steps("seq", "group", "seq")  # handle: s2
    then = {wf.WF: outer, wf.WF_AT: 1, wf.STEP: outer[1]}
    inner = steps("seq", "seq")  # a member pipeline of the group: handle s1 (its own)
    inner[-1]["l"] = {wf.GROUP: "s1", wf.GROUP_THEN: then}
    assert wf.roots({wf.WF: outer, wf.WF_AT: 0}) == ["s2"]
    assert wf.roots({wf.GROUP: "s1", wf.GROUP_THEN: then}) == ["s2"]  # a plain child
    assert wf.roots({wf.WF: inner, wf.WF_AT: 0}) == ["s1", "s2"]
    assert wf.roots({"queue": "q"}) == []


def test_an_abandoned_workflow_moves_no_further() -> None:
    chain = steps("seq", "map", "seq")
    flows = wf.Workflows()
    flows.started(step_task(chain, 0), None)
    [expand] = flows.after(step_task(chain, 0), ok("s0")).submit
    flows.abandon("s2")
    assert flows.pending == {} and flows.groups == {}
    assert flows.after(expand, ok(expand.task_id, **{wf.GROUP_SIZE: 0})) == wf.NOTHING
    assert flows.after(step_task(chain, 1), ok("s1")) == wf.NOTHING


def test_a_restarted_dispatcher_knows_a_pipeline_s_handle_from_a_recovered_child() -> None:
    """Only children of a map step came back from the journal, and none has a result yet."""

    class NoLedger:
        def origin_of(self, task_id: str) -> tuple[bool, bytes | None]:
            return False, None

    chain = steps("seq", "map", "seq")
    then = {wf.WF: chain, wf.WF_AT: 1, wf.STEP: chain[1]}
    child = TaskMsg("s1.0", "app:1", b"X", {wf.GROUP: "s1", wf.GROUP_INDEX: 0, wf.GROUP_THEN: then})
    flows = wf.Workflows()
    flows.started(child, b"the worker that expanded the map")
    assert flows.origin_of(NoLedger())("s2") == (True, None)  # awaited; not by the worker
    flows.started(step_task(chain, 0), b"p")  # a handle keeps the origin it was learnt with
    assert flows.pending == {"s2": None}
