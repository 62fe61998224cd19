"""``TaskiqResult``: the outcome of one task, as the caller sees it."""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar

from zq.core.casting import cast_value, caster_for
from zq.core.messages import ResultMsg
from zq.core.remote_errors import rebuild
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
        if return_type is not None and value is not None:
            caster = caster_for(return_type)
            if caster is not None:
                value = cast_value(caster, value, f"the result of task {msg.task_id}")
        return TaskiqResult(
            is_err=False,
            return_value=value,
            execution_time=msg.execution_time,
            labels=msg.labels,
            log=msg.log,
        )
