"""``async_shared_broker`` and ``shared_task``: tasks declared in a library.

They are kicked through whichever broker the app sets
(``async_shared_broker.default_broker(broker)``) or passes
(``task.kicker().with_broker(broker)``). Every broker's workers can run them.
"""

from __future__ import annotations

from typing import Any, ParamSpec, TypeVar

from zq.abc.broker import AsyncBroker
from zq.core.messages import TaskMsg
from zq.decor import AsyncTaskiqDecoratedTask
from zq.exceptions import SharedBrokerSendTaskError
from zq.kicker import AsyncKicker
from zq.task import AsyncTaskiqTask

_Params = ParamSpec("_Params")
_ReturnType = TypeVar("_ReturnType")


class SharedDecoratedTask(AsyncTaskiqDecoratedTask[_Params, _ReturnType]):
    """A shared task: kicked through the shared broker's default broker."""

    def _target(self) -> AsyncBroker:
        return getattr(self.broker, "_default_broker", None) or self.broker

    def kicker(self) -> AsyncKicker[_Params, _ReturnType]:
        """A kicker on the default broker; its labels are a copy (taskiq shares the dict)."""
        return AsyncKicker(self.task_name, self._target(), self.labels, self.return_type)

    async def kiq(
        self, *args: _Params.args, **kwargs: _Params.kwargs
    ) -> AsyncTaskiqTask[_ReturnType]:
        """Send the task through the default broker."""
        return await self.kicker().kiq(*args, **kwargs)


class AsyncSharedBroker(AsyncBroker):
    """Holds shared tasks; cannot send anything itself."""

    def __init__(self) -> None:
        super().__init__()
        self._default_broker: AsyncBroker | None = None
        self.decorator_class = SharedDecoratedTask

    def default_broker(self, new_broker: AsyncBroker) -> None:
        """Kick shared tasks through ``new_broker`` from now on."""
        self._default_broker = new_broker

    async def kick(self, message: TaskMsg) -> None:
        """Refuses: set a default broker first."""
        raise SharedBrokerSendTaskError

    def _register_task(self, task_name: str, task: AsyncTaskiqDecoratedTask[Any, Any]) -> None:
        self.global_task_registry[task_name] = task


async_shared_broker = AsyncSharedBroker()
shared_task = async_shared_broker.task
