"""Workflows (pipelines) as the dispatcher drives them: which task comes after a result.

A pipeline travels with its tasks: the first task's labels hold every step (``WF``) and the
index of the step it is (``WF_AT``). When a step's result reaches the dispatcher, ``after``
says what to submit next, from that result's bytes, never decoding them (the next task gets
them in its ``IN`` label, and the worker's receiver decodes them with the app's serializer):

- a sequential step (``call_next``, ``call_after``): the next task, under its own id;
- a ``map`` or ``filter`` step: an *expand* task (a worker decodes the list and kicks one
  child per item, numbered, in the group ``GROUP``), then, once every child's result is here
  (``Group``), a *collect* task that builds the list under the step's id;
- a ``group`` step: every member at once (a task, or a pipeline whose last step is tagged
  with the group), each given the previous result; then the collect task, as for ``map``;
- the end: nothing (the last step's result is the pipeline's).

A failed step (or child, unless the step skips errors) ends the pipeline: the caller's handle,
the last step's id, gets that error. Pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zq.core.messages import ErrorInfo, ResultMsg, TaskMsg

WF = "_zq_wf"  # the steps: [{"k": kind, "n": task name, "i": task id, "l": labels, ...}]
WF_AT = "_zq_wf_at"  # the index of the step this task is (or ends: a collect task)
IN = "_zq_in"  # the previous step's result, encoded: the receiver passes it to the task
IN_PARAM = "_zq_in_param"  # None: first argument; -1: not passed; a name: that keyword
GROUP = "_zq_group"  # a child of a map, filter or group step: the step's id (its group)
GROUP_INDEX = "_zq_group_index"  # the child's place in the list
GROUP_SIZE = "_zq_group_size"  # how many children (on each child, and on an expand's result)
GROUP_THEN = "_zq_group_then"  # on each child: its group's collect labels (see ``Group``)
SKIP = "_zq_skip_errors"
PARTS = "_zq_parts"  # a collect task's input: each child's (ok, result or None, its item)
STEP = "_zq_step"  # an expand or collect task's step

EXPAND = "zq.workflow:expand"  # built-in tasks every worker runs
COLLECT = "zq.workflow:collect"
START = "zq.workflow:start"  # a group kicked on its own begins with this no-op step
BUILT_IN = frozenset({EXPAND, COLLECT, START})
LABELS = frozenset({WF, GROUP})  # a result with one of these may move a workflow on


@dataclass(slots=True)
class Group:
    """A map, filter or group step waiting for its children's results."""

    then: dict[str, Any]  # the collect task's labels: the step, the pipeline to go on with
    queue: str
    size: int | None = None  # a map's or filter's: known once the expand task's result came
    parts: dict[int, tuple[bool, bytes | None, bytes | None]] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Next:
    """What a result leads to: tasks to submit, and (a failed pipeline) an error to deliver."""

    submit: list[TaskMsg] = field(default_factory=list)
    fail: list[ResultMsg] = field(default_factory=list)  # error results of pipelines' last ids

    def __add__(self, other: Next) -> Next:
        return Next([*self.submit, *other.submit], [*self.fail, *other.fail])


NOTHING = Next()


class Workflows:
    """The groups in progress; ``after`` decides what each result of a workflow task leads to."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.pending: dict[str, bytes | None] = {}  # unfinished pipelines: last id -> origin
        # Groups collected or failed: a late or repeated child result must not start them again.
        self.done: Recent = Recent(100_000)
        self.cancelled = Recent(100_000)  # workflows cancelled (their last ids)

    def started(self, task: TaskMsg, origin: bytes | None) -> None:
        """A step, or a child of a step's group, was accepted: its workflows' handles are awaited.

        A step's own pipeline is awaited by ``origin``'s caller. The pipelines further out (and
        a child's, which a worker kicked) keep the origin they were started with; a restarted
        dispatcher that has only their children from its journal learns them here, before any
        child's result arrives, so a fetch of their handle waits instead of failing as expired.
        """
        handles = roots(task.labels)
        if WF in task.labels:
            self.pending.setdefault(handles[0], origin)
            handles = handles[1:]
        for handle in handles:
            self.pending.setdefault(handle, None)

    def origin_of(self, ledger: Any) -> Callable[[str], tuple[bool, bytes | None]]:
        """``ledger.origin_of``, also knowing the last ids of unfinished pipelines."""

        def known(task_id: str) -> tuple[bool, bytes | None]:
            found = ledger.origin_of(task_id)
            if found[0] or task_id not in self.pending:
                return found  # type: ignore[no-any-return]
            return True, self.pending[task_id]

        return known

    def abandon(self, last: str) -> None:
        """The workflow whose handle is ``last`` was cancelled: nothing of it goes on."""
        self.pending.pop(last, None)
        self.cancelled.add(last)
        for step_id, group in list(self.groups.items()):
            if last in roots(group.then):
                del self.groups[step_id]
                self.done.add(step_id)

    def after(self, task: TaskMsg, result: ResultMsg) -> Next:
        """What ``result`` (of ``task``, which has a ``LABELS`` label) leads to."""
        labels = task.labels
        if self.cancelled and any(last in self.cancelled for last in roots(labels)):
            return NOTHING  # its workflow was cancelled
        if GROUP in labels:  # a child (maybe the last step of a pipeline in a group)
            if WF in labels:
                self.pending.pop(task.task_id, None)
            return self._child(task.labels, result)
        steps: list[dict[str, Any]] = labels[WF]
        at = int(labels[WF_AT])
        if task.task_name == EXPAND:
            return self._expanded(task, result, steps[at])
        if at + 1 >= len(steps):
            self.pending.pop(task.task_id, None)
            return NOTHING  # the last step: its result, success or error, is the pipeline's
        if result.is_err:
            return self._failed(steps, result.error)
        return Next(self._step(steps, at + 1, result.payload))

    def _step(self, steps: list[dict[str, Any]], at: int, value: bytes) -> list[TaskMsg]:
        """The tasks of step ``at``, given the previous step's encoded result ``value``."""
        step = steps[at]
        wf = {WF: steps, WF_AT: at}
        if step["k"] == "seq":
            return [task_of(step, {**step["l"], **wf, IN: value, IN_PARAM: step["p"]})]
        if step["k"] == "group":
            return self._fan_out(steps, at, value)
        # map / filter: a worker expands the list; the group collects the children's results
        then = {**wf, STEP: step}
        self.groups[step["i"]] = Group(then, queue_of(step))
        labels = {**then, IN: value, GROUP_THEN: then}
        return [TaskMsg(f"{step['i']}.expand", EXPAND, b"", labels, queue_of(step))]

    def _fan_out(self, steps: list[dict[str, Any]], at: int, value: bytes) -> list[TaskMsg]:
        """A group step: each member (a task, or a pipeline) with the previous result."""
        step = steps[at]
        members: list[dict[str, Any]] = step["m"]
        # Each child carries what its group goes on with (so that a restarted dispatcher can
        # gather them again): the steps, without this group's members (they would make it
        # as long as the group).
        brief = {k: v for k, v in step.items() if k != "m"}
        then = {WF: [*steps[:at], brief, *steps[at + 1 :]], WF_AT: at, STEP: brief}
        self.groups[step["i"]] = Group(then, queue_of(step), len(members))
        given = {IN: value, IN_PARAM: step["p"]}
        children = []
        for index, member in enumerate(members):
            tag = {
                GROUP: step["i"],
                GROUP_INDEX: index,
                GROUP_SIZE: len(members),
                GROUP_THEN: then,
                SKIP: bool(step["e"]),
            }
            if "wf" in member:  # a pipeline: its first step gets the input, its last the tag
                sub = [*member["wf"][:-1], {**member["wf"][-1]}]
                sub[-1]["l"] = {**sub[-1]["l"], **tag}
                first = sub[0]
                labels = {**first["l"], WF: sub, WF_AT: 0, **given}
                children.append(
                    TaskMsg(first["i"], first["n"], first["x"], labels, queue_of(first))
                )
            else:
                labels = {**member["l"], **tag, **given}
                children.append(
                    TaskMsg(member["i"], member["n"], member["x"], labels, queue_of(member))
                )
        if not members:  # nothing to wait for
            return [*children, *self._complete(step["i"], self.groups[step["i"]]).submit]
        return children

    def _expanded(self, task: TaskMsg, result: ResultMsg, step: dict[str, Any]) -> Next:
        group = self.groups.get(step["i"])
        if group is None:
            if step["i"] in self.done:  # the pipeline failed meanwhile (a child's error)
                return NOTHING
            then = task.labels[GROUP_THEN]  # (a restarted dispatcher: gathered anew)
            group = self.groups[step["i"]] = Group(then, queue_of(step))
        if result.is_err:
            del self.groups[step["i"]]
            return self._failed(task.labels[WF], result.error)
        group.size = int(result.labels.get(GROUP_SIZE, 0))
        return self._complete(step["i"], group)

    def restore(self, result: ResultMsg) -> Next:
        """A child's result found in the journal at start-up: its group, gathered again."""
        labels = result.labels
        if GROUP not in labels or GROUP_THEN not in labels:
            return NOTHING
        if WF in labels:  # the last step of a pipeline in a group: that pipeline is done
            self.pending.pop(result.task_id, None)
        return self._child(labels, result)

    def _child(self, labels: dict[str, Any], result: ResultMsg) -> Next:
        step_id = labels[GROUP]
        group = self.groups.get(step_id)
        if group is None:
            then = labels.get(GROUP_THEN)
            if then is None or step_id in self.done:  # failed, or collected already
                return NOTHING
            # (a dispatcher restarted on its journal: the group is gathered anew)
            group = self.groups[step_id] = Group(then, queue_of(then[STEP]))
            self.pending.setdefault(then[WF][-1]["i"], None)
        if GROUP_SIZE in labels:
            group.size = int(labels[GROUP_SIZE])
        ok = not result.is_err
        if not ok and not labels.get(SKIP):
            del self.groups[step_id]
            self.done.add(step_id)
            return self._failed(group.then[WF], result.error)
        item = labels.get(IN) if group.then[STEP]["k"] == "filter" else None
        group.parts[int(labels[GROUP_INDEX])] = (ok, result.payload if ok else None, item)
        return self._complete(step_id, group)

    def _complete(self, step_id: str, group: Group) -> Next:
        """The collect task, once every child's result is here."""
        if group.size is None or len(group.parts) < group.size:
            return NOTHING
        del self.groups[step_id]
        self.done.add(step_id)
        labels = {**group.then, PARTS: [group.parts[i] for i in range(group.size)]}
        return Next([TaskMsg(step_id, COLLECT, b"", labels, group.queue)])

    def _failed(self, steps: list[dict[str, Any]], error: ErrorInfo | None) -> Next:
        """The pipeline ends with ``error``: its last id gets it; a group it is in, too."""
        result = failed(steps, error)
        self.pending.pop(result.task_id, None)
        then = Next(fail=[result])
        last = steps[-1]["l"]
        if GROUP in last:  # a pipeline in a group: that member failed
            then = then + self._child(last, result)
        return then


class Recent:
    """A set that keeps only its last ``size`` members."""

    def __init__(self, size: int) -> None:
        self._order: deque[str] = deque(maxlen=size)
        self._items: set[str] = set()

    def add(self, item: str) -> None:
        """Remember ``item`` (the oldest goes past the size)."""
        if item in self._items:
            return
        if len(self._order) == self._order.maxlen:
            self._items.discard(self._order[0])
        self._order.append(item)
        self._items.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __bool__(self) -> bool:
        return bool(self._items)


def roots(labels: dict[str, Any]) -> list[str]:
    """The handles (last ids) of the workflows a task with these labels belongs to, inner first.

    A step belongs to its pipeline; a child to the pipeline its group is a step of; a pipeline
    that is a group's member, to the pipeline that group is in, and so on outwards.
    """
    found: list[str] = []
    steps = labels.get(WF)
    if steps is None and GROUP_THEN in labels:
        steps = labels[GROUP_THEN][WF]
    while steps:
        last = steps[-1]
        found.append(last["i"])
        then = last["l"].get(GROUP_THEN)
        steps = then[WF] if then else None
    return found


def failed(steps: list[dict[str, Any]], error: ErrorInfo | None) -> ResultMsg:
    """The pipeline's result when a step failed: that step's error, for the last step's id."""
    last = steps[-1]
    why = error or ErrorInfo("zq.pipelines", "PipelineError", "a step of the pipeline failed")
    return ResultMsg(last["i"], True, b"", 0.0, dict(last["l"]), why)


def task_of(spec: dict[str, Any], labels: dict[str, Any]) -> TaskMsg:
    """The task a step (or a group's member) describes, with these labels."""
    return TaskMsg(spec["i"], spec["n"], spec["x"], labels, queue_of(spec))


def queue_of(step: dict[str, Any]) -> str:
    """The queue a step's task goes to (its ``queue`` label, else the default)."""
    return str(step["l"].get("queue", "default"))
