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

__all__ = ["AbortPipeline", "Pipeline", "PipelineError", "PipelineMiddleware"]

_R = TypeVar("_R")
EMPTY_PARAM_NAME = -1  # taskiq-pipelines' value of param_name for "do not pass the result"


class PipelineError(TaskiqError):
    """A pipeline could not be built or run."""


class AbortPipeline(PipelineError):
    """Raised by a step to end its pipeline: the pipeline's handle gets this error."""


class PipelineMiddleware(TaskiqMiddleware):
    """taskiq-pipelines' middleware, accepted so ported apps run unchanged: zq needs none."""


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
        for step in self.steps:
            step["i"] = self.broker.id_generator()
        first = self.steps[0]
        labels = {**first["l"], workflow.WF: self.steps, workflow.WF_AT: 0}
        kicker: AsyncKicker[Any, Any] = AsyncKicker(first["n"], self.broker, labels)
        await kicker.with_task_id(first["i"]).kiq(*args, **{**self._first_kwargs, **kwargs})
        last = self.steps[-1]["i"]
        return AsyncTaskiqTask(last, self.broker.result_backend, broker=self.broker)

    def _add(
        self, kind: str, task: Any, param: str | int | None, skip: bool, kwargs: dict[str, Any]
    ) -> Pipeline[Any]:
        name = getattr(task, "task_name", None)
        if not isinstance(name, str):
            raise TypeError(f"a pipeline step is a task or a kicker, not {task!r}")
        if not self.steps:
            self._first_kwargs = dict(kwargs)
        self.steps.append(
            {
                "k": kind,
                "n": name,
                "i": "",
                "l": portable_labels(dict(getattr(task, "labels", {}) or {})),
                "p": param,
                "x": self.broker.serializer.dumpb([[], kwargs]),
                "e": skip,
            }
        )
        return self
