"""The worker's part in pipelines: decoding what the dispatcher passes on, and two built-in tasks.

The dispatcher never decodes a result (``zq.core.workflow``): it hands the previous step's
encoded result to the next task in a label, and this passes it to the task as its first
argument, or as the keyword ``param_name``, or not at all (``call_after``). A ``map`` or
``filter`` step runs two built-in tasks here: *expand* (decode the list, kick one child per
item) and *collect* (decode the children's results, build the list: the step's result); a
``group`` kicked on its own begins with *start*, which does nothing.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

from zq.core import workflow as wf
from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import describe
from zq.exceptions import SendTaskError

if TYPE_CHECKING:
    from zq.actors.ports import TaskPort
    from zq.serializers.base import TaskiqSerializer


def with_input(
    serializer: TaskiqSerializer, labels: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """``args`` and ``kwargs`` with the previous step's result where the step wants it."""
    param = labels.get(wf.IN_PARAM)
    if param == -1:
        return args, kwargs
    value = serializer.loadb(labels[wf.IN])
    if param is None:
        return [value, *args], kwargs
    return args, {**kwargs, str(param): value}


async def run_built_in(
    serializer: TaskiqSerializer, task: TaskMsg, port: TaskPort | None
) -> ResultMsg:
    """Run ``zq.workflow:expand`` or ``zq.workflow:collect``; an error becomes the result."""
    start = perf_counter()
    labels = dict(task.labels)
    try:
        if task.task_name == wf.EXPAND:
            labels[wf.GROUP_SIZE] = await _expand(serializer, task, port)
            payload = b""
        elif task.task_name == wf.START:  # a group on its own: its members begin after this
            payload = serializer.dumpb(None)
        else:
            payload = serializer.dumpb(_collect(serializer, task))
    except Exception as exc:
        return ResultMsg(task.task_id, True, b"", perf_counter() - start, labels, describe(exc))
    return ResultMsg(task.task_id, False, payload, perf_counter() - start, labels)


async def _expand(serializer: TaskiqSerializer, task: TaskMsg, port: TaskPort | None) -> int:
    """Kick one child per item of the previous step's list; returns how many."""
    if port is None:
        raise SendTaskError("a pipeline's map or filter step needs a dispatcher (ZeroMQBroker)")
    items = serializer.loadb(task.labels[wf.IN])
    if not isinstance(items, list | tuple):
        raise TypeError(f"map and filter need a list from the step before, not {type(items)}")
    step: dict[str, Any] = task.labels[wf.STEP]
    for index, item in enumerate(items):
        labels = {
            **step["l"],
            wf.GROUP: step["i"],
            wf.GROUP_INDEX: index,
            wf.GROUP_SIZE: len(items),
            wf.GROUP_THEN: task.labels[wf.GROUP_THEN],
            wf.SKIP: bool(step["e"]),
            wf.IN: serializer.dumpb(item),
            wf.IN_PARAM: step["p"],
        }
        await port.submit(
            TaskMsg(f"{step['i']}.{index}", step["n"], step["x"], labels, wf.queue_of(step))
        )
    return len(items)


def _collect(serializer: TaskiqSerializer, task: TaskMsg) -> list[Any]:
    """The step's list: the children's results (map), or the items whose child said yes."""
    step: dict[str, Any] = task.labels[wf.STEP]
    parts: list[tuple[bool, bytes | None, bytes | None]] = task.labels[wf.PARTS]
    if step["k"] in ("map", "group"):
        return [serializer.loadb(raw) for ok, raw, _ in parts if ok and raw is not None]
    return [  # filter: the items (each child had its own) whose child said yes
        serializer.loadb(item)
        for ok, raw, item in parts
        if ok and raw is not None and item is not None and serializer.loadb(raw)
    ]
