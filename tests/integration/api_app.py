"""Tasks and middlewares for the ZeroMQ-only API tests (real workers load this module)."""

import asyncio
import os
from typing import Any

from zq import Context, TaskiqDepends, TaskiqEvents, TaskiqMiddleware, TaskiqState, ZeroMQBroker
from zq.middlewares import PrometheusMiddleware


class Exploding(TaskiqMiddleware):
    """Raises in every hook: zq must isolate it and still deliver every result."""

    def pre_send(self, message: Any) -> Any:
        raise RuntimeError("pre_send")

    def post_send(self, message: Any) -> None:
        raise RuntimeError("post_send")

    def pre_execute(self, message: Any) -> Any:
        raise RuntimeError("pre_execute")

    async def post_execute(self, message: Any, result: Any) -> None:
        raise RuntimeError("post_execute")

    def on_error(self, message: Any, result: Any, exception: BaseException) -> None:
        raise RuntimeError("on_error")

    def post_save(self, message: Any, result: Any) -> None:
        raise RuntimeError("post_save")


broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
broker.add_middlewares(Exploding())
if os.environ.get("ZQ_TEST_METRICS_PORT"):
    broker.add_middlewares(
        PrometheusMiddleware(
            server_port=int(os.environ["ZQ_TEST_METRICS_PORT"]), server_addr="127.0.0.1"
        )
    )


@broker.task("api:double")
async def double(x: int) -> int:
    return 2 * x


@broker.task("api:fail")
async def fail() -> None:
    raise ValueError("expected")


@broker.task("api:reject")
async def reject(context: Context = TaskiqDepends()) -> None:
    context.reject("not for us")


@broker.task("api:pid")
async def pid() -> int:
    return os.getpid()


@broker.task("api:local_error")
async def local_error() -> None:
    class OnlyOnTheWorker(Exception):  # no client can import this class
        def __init__(self, code: int) -> None:
            super().__init__(f"code {code}")
            self.code = code

    raise OnlyOnTheWorker(7)


@broker.task("api:echo_labels")
async def echo_labels(context: Context = TaskiqDepends()) -> dict[str, Any]:
    return {k: v for k, v in context.message.labels.items() if k.startswith("l_")}


@broker.task("api:ack_then_hang", ack_type="manual")
async def ack_then_hang(marker: str, context: Context = TaskiqDepends()) -> None:
    await context.ack()
    with open(marker + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(marker + ".tmp", marker)
    await asyncio.Event().wait()


@broker.on_event(TaskiqEvents.WORKER_STARTUP, TaskiqEvents.WORKER_SHUTDOWN)
def mark_lifecycle(state: TaskiqState) -> None:
    path = os.environ.get("ZQ_TEST_LIFECYCLE_LOG")
    if path:
        state.events = [*state.get("events", []), "up" if "events" not in state else "down"]
        with open(path, "a") as f:
            f.write(f"{os.getpid()} {state.events[-1]}\n")
