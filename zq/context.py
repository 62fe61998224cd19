"""``Context``: what a task can know about its own call and do to it (a dependency)."""

from __future__ import annotations

from typing import NoReturn

from zq.abc.broker import AsyncBroker
from zq.actors.ports import TaskPort, cancel_requested
from zq.exceptions import NoResultError, TaskRejectedError
from zq.kicker import AsyncKicker
from zq.message import TaskiqMessage
from zq.state import TaskiqState


class Context:
    """The running task's message, broker and state, with ``requeue``, ``reject`` and ``ack``.

    Ask for it with ``context: Context = TaskiqDepends()``.
    """

    def __init__(
        self, message: TaskiqMessage, broker: AsyncBroker, port: TaskPort | None = None
    ) -> None:
        self.message = message
        self.broker = broker
        self.state: TaskiqState = broker.state
        self._port = port
        self.is_acked = False

    @property
    def is_ackable(self) -> bool:
        """Whether ``ack()`` reaches a dispatcher (it does for every zq broker)."""
        return self._port is not None

    @property
    def cancelled(self) -> bool:
        """Whether this task was cancelled while it runs (``broker.cancel``, ``zq cancel``).

        For sync tasks run in threads, which cannot be stopped from outside: check it between
        steps and return (or raise) when it turns True. An async task has ``CancelledError``
        thrown into it instead; a sync task in the process pool has its process ended.
        """
        return self.message.task_id in cancel_requested

    async def ack(self) -> None:
        """End the task's lease now (for ``ack_type="manual"``; harmless otherwise).

        After this, if the worker dies the task is not delivered again: it is dead-lettered.
        """
        if self._port is None:
            raise RuntimeError("this task's message is not ackable")
        if not self.is_acked:
            await self._port.ack(self.message.task_id)
            self.is_acked = True

    async def requeue(self) -> NoReturn:
        """Send this task again (same id, same arguments) and end this run without a result.

        The ``X-Taskiq-requeue`` label counts the requeues.
        """
        labels = self.message.labels
        labels["X-Taskiq-requeue"] = int(labels.get("X-Taskiq-requeue", 0)) + 1
        kicker: AsyncKicker[..., object] = AsyncKicker(
            self.message.task_name, self.broker, dict(labels)
        )
        await kicker.with_task_id(self.message.task_id).kiq(
            *self.message.args, **self.message.kwargs
        )
        raise NoResultError

    def reject(self, reason: str = "") -> NoReturn:
        """Refuse this task: it is dead-lettered with ``reason``, never lost silently.

        Its caller gets ``TaskRejectedError``.
        """
        raise TaskRejectedError(reason or "rejected by the task", reason=reason)
