"""``SimpleRetryMiddleware``: run a failed task again, at once, up to ``max_retries`` runs.

Labels (per task or per kick): ``retry_on_error`` (bool), ``max_retries`` (total runs, as in
taskiq: ``max_retries=3`` means at most 3 runs), ``_retries`` (runs so far, set by zq).
The retry keeps the task's id, so the caller's ``wait_result`` sees only the final outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from zq.abc.middleware import TaskiqMiddleware
from zq.exceptions import NoResultError, TaskRejectedError
from zq.kicker import AsyncKicker
from zq.message import TaskiqMessage
from zq.result import TaskiqResult

log = logging.getLogger("zq.retry")


class SimpleRetryMiddleware(TaskiqMiddleware):
    """Retries failed tasks that have ``retry_on_error`` (or all, with ``default_retry_label``).

    ``types_of_exceptions`` limits retries to those exception types; a task's own
    ``types_of_exceptions`` label (set on ``@broker.task``) takes precedence.
    """

    def __init__(
        self,
        default_retry_count: int = 3,
        default_retry_label: bool = False,
        no_result_on_retry: bool = True,
        types_of_exceptions: Iterable[type[BaseException]] | None = None,
    ) -> None:
        super().__init__()
        self.default_retry_count = default_retry_count
        self.default_retry_label = default_retry_label
        self.no_result_on_retry = no_result_on_retry
        self.types_of_exceptions = types_of_exceptions

    def wants_retry(self, message: TaskiqMessage, exception: BaseException) -> bool:
        """Whether this failure should be retried (before counting runs)."""
        if isinstance(exception, (NoResultError, TaskRejectedError)):
            return False
        task = self.broker.find_task(message.task_name)
        types = task.labels.get("types_of_exceptions") if task is not None else None
        types = types if types is not None else self.types_of_exceptions
        if types is not None and not isinstance(exception, tuple(types)):
            return False
        return self.is_retry_on_error(message)

    def is_retry_on_error(self, message: TaskiqMessage) -> bool:
        """Whether the task asked for retries (``retry_on_error`` label, else the default)."""
        flag = message.labels.get("retry_on_error")
        if isinstance(flag, str):
            flag = flag.lower() == "true"
        return bool(self.default_retry_label if flag is None else flag)

    def next_run(self, message: TaskiqMessage) -> int | None:
        """The number of the run a retry would be (1-based retries), or None if out of runs."""
        retries = int(message.labels.get("_retries", 0)) + 1
        max_retries = int(message.labels.get("max_retries", self.default_retry_count))
        if retries < max_retries:
            return retries
        log.warning("task %s failed; no retries left (%d runs)", message.task_name, retries)
        return None

    def retry_kicker(self, message: TaskiqMessage, retries: int) -> AsyncKicker[Any, Any]:
        """A kicker for the retry: same name, labels and id, with ``_retries`` counted."""
        return (
            AsyncKicker(message.task_name, self.broker, message.labels)
            .with_task_id(message.task_id)
            .with_labels(_retries=retries)
        )

    async def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Kick the task again if it should be retried."""
        if not self.wants_retry(message, exception):
            return
        retries = self.next_run(message)
        if retries is None:
            return
        labels = self.retry_labels(message, retries)
        log.info("task %s failed; retry %d %s", message.task_name, retries, labels or "")
        kicker = self.retry_kicker(message, retries).with_labels(**labels)
        await kicker.kiq(*message.args, **message.kwargs)
        if self.no_result_on_retry:  # the caller waits for the retry's result instead
            result.error = NoResultError()
            # What failed stays in the run's history (zq task show): the cause, and its name.
            result.error.__cause__ = exception
            result.error.failed_type = _qualified(type(exception))  # type: ignore[attr-defined]
            result.error.failed_message = str(exception)  # type: ignore[attr-defined]

    def retry_labels(self, message: TaskiqMessage, retries: int) -> dict[str, Any]:
        """Extra labels for retry number ``retries`` (none here; a delay in the smart one)."""
        return {}


def _qualified(cls: type) -> str:
    """``ValueError``, or ``module.Class`` for a class outside the builtins."""
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
