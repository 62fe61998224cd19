"""Tasks and middlewares for the ZeroMQ-only API tests (real workers load this module)."""

import os
from typing import Any

from zq import Context, TaskiqDepends, TaskiqMiddleware, ZeroMQBroker
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
