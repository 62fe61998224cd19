"""``TaskiqResult``: the outcome of one task, as the caller sees it."""

from __future__ import annotations

from typing import Any, Generic, NotRequired, Self, TypeVar

from zq.compat import ModelInterface
from zq.core.casting import cast_result
from zq.core.messages import ErrorInfo, ResultMsg
from zq.core.remote_errors import describe, rebuild
from zq.serializers.base import TaskiqSerializer

_ReturnType = TypeVar("_ReturnType")
_new = object.__new__


class TaskiqResult(ModelInterface, Generic[_ReturnType]):
    """Result of a remote task invocation (taskiq's fields and ``raise_for_error``).

    It has the pydantic model interface plugins use (``model_dump``, ``model_validate``,
    a schema for FastAPI's ``response_model=TaskiqResult[int]``); the error is dumped in
    taskiq's form, so taskiq's own ``TaskiqResult`` reads what zq's wrote and the other way round.
    """

    __slots__ = ("error", "execution_time", "is_err", "labels", "log", "return_value")
    _fields = ("is_err", "log", "return_value", "execution_time", "labels", "error")

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

    def _dump(self) -> dict[str, Any]:
        data = super()._dump()
        data["error"] = None if self.error is None else dump_error(self.error)
        return data

    @classmethod
    def _load(cls, data: dict[str, Any]) -> Self:
        error = data.get("error")
        if isinstance(error, dict):
            data = {**data, "error": load_error(error)}
        data.setdefault("return_value", None)
        return cls(**data)

    @classmethod
    def _shape(cls, args: tuple[Any, ...]) -> Any:
        from typing_extensions import TypedDict  # pydantic's own dependency, on 3.11 too

        returns = args[0] if args else Any

        class TaskiqError(TypedDict):
            """An error in taskiq's dumped form."""

            exc_type: str
            exc_message: list[Any]
            exc_module: str
            exc_cause: NotRequired[Any]
            exc_context: NotRequired[Any]
            exc_suppress_context: NotRequired[bool]

        return TypedDict(  # type: ignore[operator]
            "TaskiqResult",
            {
                "is_err": bool,
                "log": NotRequired[str | None],
                "return_value": returns,
                "execution_time": float,
                "labels": NotRequired[dict[str, Any]],
                "error": NotRequired[TaskiqError | None],
            },
        )

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
        # One per awaited result: the fields set directly (__init__'s keywords cost 300 ns more)
        result: TaskiqResult[Any] = _new(TaskiqResult)
        result.is_err, result.return_value, result.error = False, value, None
        result.execution_time, result.labels, result.log = msg.execution_time, msg.labels, msg.log
        return result


def dump_error(error: BaseException) -> dict[str, Any]:
    """``error`` in taskiq's dumped form (type, module, args; cause and context by type)."""
    info = describe(error)
    return {
        "exc_type": info.qualname,
        "exc_message": info.args,
        "exc_module": info.module,
        "exc_cause": None,
        "exc_context": None,
        "exc_suppress_context": error.__suppress_context__,
    }


def load_error(data: dict[str, Any]) -> BaseException:
    """The exception a dumped error describes (its class if imported here, else a stand-in)."""
    args = data.get("exc_message") or []
    args = list(args) if isinstance(args, list | tuple) else [args]
    qualname = str(data.get("exc_type", "Exception"))
    info = ErrorInfo(str(data.get("exc_module", "builtins")), qualname, str(args), args)
    return rebuild(info)
