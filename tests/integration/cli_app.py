"""The app the `zq worker` option tests run. Tasks write their own execution log (the oracle)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from tests.integration.app_tasks import _log
from zq import (
    Context,
    TaskiqDepends,
    TaskiqEvents,
    TaskiqMessage,
    TaskiqMiddleware,
    TaskiqResult,
    TaskiqState,
    ZeroMQBroker,
)
from zq.actors.ports import TaskPort
from zq.core.messages import ResultMsg, TaskMsg
from zq.receiver import Receiver


class HoldAfterExecute(TaskiqMiddleware):
    """For a task labelled ``hold=<path>``: after it ran, create ``path`` and never return.

    That parks the task between execution and saving its result (for ``--ack-type`` tests).
    """

    async def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        hold = message.labels.get("hold")
        if hold:
            with open(hold, "w") as marker:
                marker.write(str(os.getpid()))
            await asyncio.Event().wait()


broker = ZeroMQBroker(
    "tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0
).with_middlewares(HoldAfterExecute())


def make_broker() -> ZeroMQBroker:
    """A broker factory (``zq worker tests.integration.cli_app:make_broker``)."""
    return broker


@broker.task
async def record(token: str, log_path: str) -> str:
    _log(log_path, token)
    return token


@broker.task
async def slow_record(token: str, log_path: str, seconds: float) -> str:
    await asyncio.sleep(seconds)  # the work a task does; tests never sleep
    _log(log_path, token)
    return token


@broker.task
async def block(token: str, log_path: str) -> str:
    """Logs that it started, then runs until cancelled; logs again if it is ever finished."""
    _log(log_path, f"start-{token}")
    await asyncio.Event().wait()
    return token


@broker.task
async def stubborn(token: str, log_path: str) -> str:
    """Ignores cancellation: only a kill stops it."""
    _log(log_path, f"start-{token}")
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            continue


@broker.task(queue="emails")
async def send_email(token: str, log_path: str) -> str:
    _log(log_path, token)
    return f"emailed {token}"


@broker.task
def typed(x: int) -> str:
    return type(x).__name__


@broker.task
def sync_where() -> list[Any]:
    return [os.getpid(), threading.current_thread().name]


@broker.task
async def crash() -> None:
    os._exit(3)  # a task that kills its worker process


async def watched(context: Context = TaskiqDepends()) -> AsyncIterator[int]:
    """A generator dependency that logs whether the task's exception was thrown into it."""
    log_path = context.message.kwargs["log_path"]
    try:
        yield 1
    except Exception as exc:
        _log(log_path, f"saw-{type(exc).__name__}")
        raise
    else:
        _log(log_path, "clean")


@broker.task
async def fail_with_dependency(
    log_path: str, value: Annotated[int, TaskiqDepends(watched)]
) -> None:
    raise ValueError("boom")


@broker.task
async def ack_then_block(token: str, log_path: str, context: Context = TaskiqDepends()) -> str:
    """Acks by hand (for ``--ack-type manual``), logs, then blocks."""
    await context.ack()
    _log(log_path, f"acked-{token}")
    await asyncio.Event().wait()
    return token


class LoggingReceiver(Receiver):
    """A receiver subclass with extra constructor arguments (``--receiver_arg``)."""

    def __init__(self, *args: Any, factor: int, log_path: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.factor = factor
        self.log_path = log_path

    async def run(self, task: TaskMsg, port: TaskPort | None = None) -> ResultMsg:
        _log(self.log_path, f"{type(self.factor).__name__}-{self.factor}-{task.task_name}")
        return await super().run(task, port)


SHUTDOWN_HANG = "ZQ_TEST_SHUTDOWN_HANG"


@broker.on_event(TaskiqEvents.WORKER_SHUTDOWN)
async def maybe_hang_on_shutdown(state: TaskiqState) -> None:
    if os.environ.get(SHUTDOWN_HANG):
        await asyncio.Event().wait()  # a shutdown handler that never returns
