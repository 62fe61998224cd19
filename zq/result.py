"""``TaskiqResult``: the outcome of one task, as the caller sees it."""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar

from zq.core.casting import cast_result
from zq.core.messages import ResultMsg
from zq.core.remote_errors import describe, rebuild
from zq.serializers.base import TaskiqSerializer

_ReturnType = TypeVar("_ReturnType")


class TaskiqResult(Generic[_ReturnType]):
    """Result of a remote task invocation (taskiq's fields and ``raise_for_error``)."""

    __slots__ = ("error", "execution_time", "is_err", "labels", "log", "return_value")

    def __init__(
        self,
        *,
        is_err: bool,
        return_value: _ReturnType,
        execution_time: float,
        labels: dict[str, Any] | None = None,
        error: BaseException | None = None,
        log: str | None = None,
    ) -> None:
        self.is_err = is_err
        self.return_value = return_value
        self.execution_time = execution_time
        self.labels = labels if labels is not None else {}
        self.error = error
        self.log = log

    def raise_for_error(self) -> Self:
        """Raise the task's exception if it failed; otherwise return self."""
        if self.error is not None:
            raise self.error
        return self

    def __repr__(self) -> str:
        what = f"error={self.error!r}" if self.is_err else f"return_value={self.return_value!r}"
        return f"TaskiqResult(is_err={self.is_err}, {what}, execution_time={self.execution_time})"

    def to_message(
        self,
        task_id: str,
        serializer: TaskiqSerializer,
        execution_time: float | None = None,
        labels: dict[str, Any] | None = None,
    ) -> ResultMsg:
        """The wire result: the error described, or the value encoded with ``serializer``.

        A value the serializer cannot encode makes it an error result saying why.
        """
        took = self.execution_time if execution_time is None else execution_time
        labels = self.labels if labels is None else labels
        if self.error is not None:
            return ResultMsg(task_id, True, b"", took, labels, describe(self.error), self.log)
        try:
            payload = b"" if self.is_err else serializer.dumpb(self.return_value)
        except Exception as exc:
            return ResultMsg(task_id, True, b"", took, labels, describe(exc), self.log)
        return ResultMsg(task_id, self.is_err, payload, took, labels, None, self.log)

    @classmethod
    def from_message(
        cls, msg: ResultMsg, serializer: TaskiqSerializer, return_type: Any = None
    ) -> TaskiqResult[Any]:
        """Decode a wire result with the broker's serializer, cast to ``return_type``."""
        if msg.is_err:
            error = rebuild(msg.error) if msg.error is not None else None
            return TaskiqResult(
                is_err=True,
                return_value=None,
                execution_time=msg.execution_time,
                labels=msg.labels,
                error=error,
                log=msg.log,
            )
        value = serializer.loadb(msg.payload)
        if return_type is not None:  # most tasks: no cast, no call
            value = cast_result(return_type, value, msg.task_id)
        return TaskiqResult(
            is_err=False,
            return_value=value,
            execution_time=msg.execution_time,
            labels=msg.labels,
            log=msg.log,
        )
