"""A taskiq app's patterns, ported to zq by changing only imports and the broker line.

The patterns are those of three public taskiq apps (issue 18): FastAPI with taskiq-fastapi and a
generator dependency on ``Request``; taskiq-redis's result backend and schedule source; dishka's
``setup_dishka`` + ``@inject``; pydantic models and ``Path`` as arguments and returns;
``response_model=TaskiqResult[int]``. The lines that changed are marked ``# ported``.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator
from typing import Annotated

import pydantic
import taskiq_fastapi
from dishka import FromDishka, Provider, Scope, make_async_container, provide
from dishka.integrations.taskiq import inject, setup_dishka
from fastapi import FastAPI, Request
from taskiq_redis import RedisAsyncResultBackend, RedisScheduleSource

from zq import TaskiqDepends, TaskiqResult, TaskiqScheduler, ZeroMQBroker  # ported

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
EXEC_LOG = pathlib.Path(os.environ.get("EXEC_LOG", "exec.log"))

broker = ZeroMQBroker(
    os.environ.get("ZQ_ADDRESS", "tcp://127.0.0.1:5555")
).with_result_backend(  # ported
    RedisAsyncResultBackend(REDIS_URL)
)
schedule_source = RedisScheduleSource(REDIS_URL)
scheduler = TaskiqScheduler(broker, [schedule_source])


def record(token: str) -> None:
    """The execution log: one line per run, written by the task itself."""
    with EXEC_LOG.open("a") as log:
        log.write(f"{token} {os.getpid()}\n")


class InputObjectDTO(pydantic.BaseModel):
    name: str
    size: int


class OutputDTO(pydantic.BaseModel):
    greeting: str
    where: pathlib.Path


class Greeter:
    def greet(self, name: str) -> str:
        return f"hi-{name}"


class AppProvider(Provider):
    @provide(scope=Scope.APP)
    def greeter(self) -> Greeter:
        return Greeter()


app = FastAPI()
app.state.greeting = "hello"


def get_app() -> FastAPI:
    return app


taskiq_fastapi.init(broker, "tests.integration.ported_app:get_app")
setup_dishka(make_async_container(AppProvider()), broker)


async def greeting_of(request: Annotated[Request, TaskiqDepends()]) -> AsyncIterator[str]:
    yield request.app.state.greeting
    record("teardown")


@broker.task
async def greet(
    obj: InputObjectDTO,
    where: pathlib.Path,
    greeting: Annotated[str, TaskiqDepends(greeting_of)],
) -> OutputDTO:
    record(f"greet-{obj.name}")
    return OutputDTO(greeting=f"{greeting} {obj.name} ({obj.size})", where=where / obj.name)


@broker.task
@inject(patch_module=True)
async def add(a: int, b: int, greeter: FromDishka[Greeter]) -> int:
    record(f"add-{a}-{b}-{greeter.greet('x')}")
    return a + b


@broker.task
async def scheduled(n: int) -> None:
    record(f"scheduled-{n}")


@app.post("/add", response_model=TaskiqResult[int])
async def add_endpoint(a: int, b: int) -> TaskiqResult[int]:
    task = await add.kiq(a, b)
    return await task.wait_result(timeout=30)
