"""Pipelines, with taskiq-pipelines' names: ``from zq.pipelines import Pipeline``.

    pipe = Pipeline(broker, fetch).call_next(parse, param_name="text").map(score).filter(good)
    handle = await pipe.kiq(url)          # the last step's handle
    result = await handle.wait_result()   # the last step's result

Each step runs when the previous one's result reaches the dispatcher, which submits the next
task itself (``zq.core.workflow``): no process polls, no worker waits for another task, and
with a journal every step in flight is on disk like any task. ``call_next`` passes the previous
result as the first argument (or as ``param_name``), ``call_after`` does not pass it, ``map``
runs a task per item of a list (in parallel, results in the list's order), ``filter`` keeps the
items for which a task returns something true. A failed step ends the pipeline: the handle
gets its error. taskiq-pipelines' ``PipelineMiddleware`` is accepted and does nothing (zq needs
none); ``check_interval`` is accepted and unused (nothing polls).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from zq.abc.broker import AsyncBroker
from zq.abc.middleware import TaskiqMiddleware
from zq.brokers.zmq_broker import ZeroMQBroker
from zq.core import workflow
from zq.exceptions import TaskiqError
from zq.kicker import AsyncKicker, portable_labels
from zq.task import AsyncTaskiqTask

__all__ = [
    "AbortPipeline",
    "Pipeline",
    "PipelineError",
    "PipelineMiddleware",
    "Signature",
    "group",
    "signature",
]

_R = TypeVar("_R")
EMPTY_PARAM_NAME = -1  # taskiq-pipelines' value of param_name for "do not pass the result"


class PipelineError(TaskiqError):
    """A pipeline could not be built or run."""


class AbortPipeline(PipelineError):
    """Raised by a step to end its pipeline: the pipeline's handle gets this error."""


class PipelineMiddleware(TaskiqMiddleware):
    """taskiq-pipelines' middleware, accepted so ported apps run unchanged: zq needs none."""


class Signature:
    """A task with some of its arguments bound: a member of a group (``signature(task, ...)``)."""

    def __init__(self, task: Any, *args: Any, **kwargs: Any) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs


def signature(task: Any, *args: Any, **kwargs: Any) -> Signature:
    """``task`` with ``args`` and ``kwargs`` bound (a group gives it the previous result too)."""
    return Signature(task, *args, **kwargs)


def group(broker: AsyncBroker, members: list[Any], *, skip_errors: bool = False) -> Pipeline[Any]:
    """Run ``members`` (tasks, signatures or pipelines) in parallel; their results as a list.

    A pipeline: ``kiq()`` it, or go on with ``.call_next(callback)`` (the callback gets the
    list: a chord). The list keeps the members' order, whatever order they finish in.
    """
    return Pipeline(broker, _START).group(
        members, param_name=EMPTY_PARAM_NAME, skip_errors=skip_errors
    )


class _Start:
    task_name = workflow.START
    labels: dict[str, Any] = {}


_START = _Start()


class Pipeline(Generic[_R]):
    """A chain of steps, kicked as one: ``kiq()`` returns the last step's handle."""

    def __init__(self, broker: AsyncBroker, task: Any = None) -> None:
        self.broker = broker
        self.steps: list[dict[str, Any]] = []
        self._first_kwargs: dict[str, Any] = {}
        if task is not None:
            self.call_next(task)

    def call_next(
        self, task: Any, param_name: str | int | None = None, **additional_kwargs: Any
    ) -> Pipeline[Any]:
        """Run ``task`` with the previous step's result: first argument, or ``param_name``."""
        return self._add("seq", task, param_name, False, additional_kwargs)

    def call_after(self, task: Any, **additional_kwargs: Any) -> Pipeline[Any]:
        """Run ``task`` after the previous step, without its result."""
        return self._add("seq", task, EMPTY_PARAM_NAME, False, additional_kwargs)

    def map(
        self,
        task: Any,
        param_name: str | None = None,
        skip_errors: bool = False,
        check_interval: float = 0.5,
        **additional_kwargs: Any,
    ) -> Pipeline[list[Any]]:
        """Run ``task`` on each item of the previous step's list, in parallel; their results."""
        del check_interval  # nothing polls here
        return self._add("map", task, param_name, skip_errors, additional_kwargs)

    def filter(
        self,
        task: Any,
        param_name: str | None = None,
        skip_errors: bool = False,
        check_interval: float = 0.5,
        **additional_kwargs: Any,
    ) -> Pipeline[Any]:
        """Keep the items of the previous step's list for which ``task`` returns a true value."""
        del check_interval
        return self._add("filter", task, param_name, skip_errors, additional_kwargs)

    def group(
        self,
        members: list[Any],
        param_name: str | int | None = None,
        skip_errors: bool = False,
    ) -> Pipeline[Any]:
        """Run ``members`` in parallel, each given the previous result; the list of theirs.

        A member is a task, a ``signature(task, ...)``, or a ``Pipeline`` (its first step
        gets the previous result). ``param_name`` as in ``call_next`` (-1: not passed).
        """
        if not self.steps:
            raise ValueError("a group needs a step before it: use zq.pipelines.group() alone")
        specs = [self._member(member) for member in members]
        self.steps.append(
            {"k": "group", "n": "", "i": "", "l": {}, "p": param_name, "x": b"", "e": skip_errors,
             "m": specs}
        )  # fmt: skip
        return self

    def _member(self, member: Any) -> dict[str, Any]:
        if isinstance(member, Pipeline):
            if not member.steps or member.steps[0]["k"] != "seq":
                raise ValueError("a pipeline in a group must begin with a sequential step")
            return {"wf": [dict(step) for step in member.steps], "i": ""}
        bound = member if isinstance(member, Signature) else Signature(member)
        return self._spec("seq", bound.task, None, False, bound.kwargs, list(bound.args))

    async def kiq(self, *args: Any, **kwargs: Any) -> AsyncTaskiqTask[_R]:
        """Kick the first step; the handle is the last step's (its result is the pipeline's)."""
        if not isinstance(self.broker, ZeroMQBroker):
            raise PipelineError(
                f"zq.pipelines needs a ZeroMQBroker, whose dispatcher moves the steps on; "
                f"{type(self.broker).__name__} has none"
            )
        if not self.steps:
            raise ValueError("Pipeline is empty.")
        if self.steps[0]["k"] != "seq":
            raise ValueError("First step must be sequential.")
        self._number(self.steps)
        first = self.steps[0]
        labels = {**first["l"], workflow.WF: self.steps, workflow.WF_AT: 0}
        kicker: AsyncKicker[Any, Any] = AsyncKicker(first["n"], self.broker, labels)
        await kicker.with_task_id(first["i"]).kiq(*args, **{**self._first_kwargs, **kwargs})
        last = self.steps[-1]["i"]
        return AsyncTaskiqTask(last, self.broker.result_backend, broker=self.broker)

    def _number(self, steps: list[dict[str, Any]]) -> None:
        """A fresh id for every step and member (a kick of the same pipeline twice is two)."""
        for step in steps:
            step["i"] = self.broker.id_generator()
            for member in step.get("m", ()):
                if "wf" in member:
                    member["wf"] = [dict(sub) for sub in member["wf"]]
                    self._number(member["wf"])
                    member["i"] = member["wf"][-1]["i"]
                else:
                    member["i"] = self.broker.id_generator()

    def _add(
        self, kind: str, task: Any, param: str | int | None, skip: bool, kwargs: dict[str, Any]
    ) -> Pipeline[Any]:
        if not self.steps:
            self._first_kwargs = dict(kwargs)
        self.steps.append(self._spec(kind, task, param, skip, kwargs))
        return self

    def _spec(
        self,
        kind: str,
        task: Any,
        param: str | int | None,
        skip: bool,
        kwargs: dict[str, Any],
        args: list[Any] | None = None,
    ) -> dict[str, Any]:
        name = getattr(task, "task_name", None)
        if not isinstance(name, str):
            raise TypeError(f"a pipeline step is a task, a kicker or a signature, not {task!r}")
        return {
            "k": kind,
            "n": name,
            "i": "",
            "l": portable_labels(dict(getattr(task, "labels", {}) or {})),
            "p": param,
            "x": self.broker.serializer.dumpb([args or [], kwargs]),
            "e": skip,
        }
