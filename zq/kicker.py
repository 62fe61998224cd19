"""``AsyncKicker``: one kick with extra labels, a chosen task id, or another broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Self, TypeVar

from zq.messages import TaskMsg
from zq.task import AsyncTaskiqTask

if TYPE_CHECKING:
    from zq.broker import AsyncBroker

_Params = ParamSpec("_Params")
_ReturnType = TypeVar("_ReturnType")

DEFAULT_QUEUE = "default"


def build_message(
    broker: AsyncBroker,
    task_name: str,
    labels: dict[str, Any],
    task_id: str | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> TaskMsg:
    """The wire message for one kick: arguments encoded once, by the broker's serializer."""
    return TaskMsg(
        task_id or broker.id_generator(),
        task_name,
        broker.serializer.dumpb([args, kwargs]),
        labels,
        str(labels.get("queue", DEFAULT_QUEUE)),
    )


class AsyncKicker(Generic[_Params, _ReturnType]):
    """Builder for one kick; its labels are a copy, so nothing leaks into the task."""

    def __init__(
        self,
        task_name: str,
        broker: AsyncBroker,
        labels: dict[str, Any],
        return_type: type[_ReturnType] | None = None,
    ) -> None:
        self.task_name = task_name
        self.broker = broker
        self.labels = labels
        self.custom_task_id: str | None = None
        self.return_type = return_type

    def with_labels(self, **labels: Any) -> Self:
        """Add labels for this kick only."""
        self.labels.update(labels)
        return self

    def with_task_id(self, task_id: str) -> Self:
        """Use this task id instead of a generated one."""
        self.custom_task_id = task_id
        return self

    def with_broker(self, broker: AsyncBroker) -> Self:
        """Kick through another broker."""
        self.broker = broker
        return self

    async def kiq(
        self, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> AsyncTaskiqTask[_ReturnType]:
        """Send the task; returns a handle to its result."""
        broker = self.broker
        message = build_message(
            broker, self.task_name, self.labels, self.custom_task_id, args, kwargs
        )
        await broker.kick(message)
        return AsyncTaskiqTask(message.task_id, broker.result_backend, self.return_type)
