"""zq's results, schedules and payloads in the shapes taskiq's plugins and FastAPI expect."""

from __future__ import annotations

import asyncio
import datetime
import json
import pathlib
from typing import Any

import pydantic
import pytest
import taskiq

from zq import InMemoryBroker, ScheduledTask, SendTaskError, TaskiqResult, ZeroMQBroker
from zq.abc.result_backend import AsyncResultBackend
from zq.exceptions import ResultSetError
from zq.scheduler.scheduled_task import CronSpec


class Point(pydantic.BaseModel):
    x: int
    where: pathlib.Path


def test_result_round_trips_through_taskiqs_own_model() -> None:
    ours = TaskiqResult(
        is_err=True, return_value=None, execution_time=1.5, error=ValueError("no", 2)
    )
    theirs = taskiq.TaskiqResult.model_validate(ours.model_dump(mode="json"))
    assert repr(theirs.error) == "ValueError('no', 2)"
    back = TaskiqResult.model_validate(json.loads(theirs.model_dump_json()))
    assert isinstance(back.error, ValueError) and back.error.args == ("no", 2)
    ok = TaskiqResult[int].model_validate_json(
        TaskiqResult(is_err=False, return_value=3, execution_time=0.1).model_dump_json()
    )
    assert (ok.is_err, ok.return_value, ok.labels) == (False, 3, {})


def test_result_has_a_schema_for_fastapi_response_model() -> None:
    adapter = pydantic.TypeAdapter(TaskiqResult[int])
    schema = adapter.json_schema(mode="serialization")
    assert schema["properties"]["return_value"] == {"title": "Return Value", "type": "integer"}
    assert (
        adapter.validate_json(
            b'{"is_err": false, "return_value": "5", "execution_time": 1}'
        ).return_value
        == 5
    )
    body = json.loads(
        adapter.dump_json(TaskiqResult(is_err=False, return_value=4, execution_time=0.5))
    )
    assert body["return_value"] == 4 and body["error"] is None


def test_schedules_round_trip_through_taskiqs_own_model() -> None:
    every = ScheduledTask(task_name="app:t", interval=datetime.timedelta(seconds=5), args=[1])
    theirs = taskiq.ScheduledTask.model_validate(every.model_dump(mode="json"))
    assert (
        theirs.interval == datetime.timedelta(seconds=5) and theirs.schedule_id == every.schedule_id
    )
    back = ScheduledTask.model_validate(theirs)  # from their object, as a source returns it
    assert back == every
    at = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    once = ScheduledTask(task_name="app:t", time=at)
    assert ScheduledTask.model_validate_json(once.model_dump_json()).time == at
    assert CronSpec(minutes=5, hours="*/2").to_cron() == "5 */2 * * *"
    assert CronSpec.model_validate({"minutes": 1}).minutes == 1


async def test_pydantic_models_and_paths_travel_and_come_back_typed() -> None:
    broker = InMemoryBroker()

    @broker.task
    async def move(p: Point, to: pathlib.Path) -> Point:
        assert isinstance(p, Point) and isinstance(to, pathlib.Path)
        return Point(x=p.x + 1, where=to)

    @broker.task
    async def takes(value: Any) -> None:
        return None

    await broker.startup()
    result = await (await move.kiq(Point(x=1, where="/a"), pathlib.Path("/b"))).wait_result(
        timeout=5
    )
    assert result.return_value == Point(x=2, where=pathlib.Path("/b"))
    with pytest.raises(SendTaskError, match=r"argument 'value' \(of type object\)"):
        await takes.kiq(value=object())
    await broker.shutdown()


class FailingBackend(AsyncResultBackend[Any]):
    async def set_result(self, task_id: str, result: Any) -> None:
        raise ConnectionError("redis went away")

    async def is_result_ready(self, task_id: str) -> bool:
        return False

    async def get_result(self, task_id: str, with_logs: bool = False) -> Any:
        raise KeyError(task_id)


@pytest.mark.parametrize("kind", ["in-memory", "zeromq"])
async def test_a_failing_result_backend_gives_the_waiter_an_error(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    base = InMemoryBroker() if kind == "in-memory" else ZeroMQBroker("tcp://127.0.0.1:*")
    broker = base.with_result_backend(FailingBackend())

    @broker.task
    async def one() -> int:
        return 1

    await broker.startup()
    worker = None
    if isinstance(broker, ZeroMQBroker):  # a worker in this process, joined to the dispatcher
        worker = asyncio.ensure_future(broker.arun_worker())
    handle = await one.kiq()
    result = await asyncio.wait_for(handle.wait_result(check_interval=0.01, timeout=10), 10)
    assert isinstance(result.error, ResultSetError) and "redis went away" in str(result.error)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("FailingBackend" in message for message in errors)
    if worker is not None:
        broker.request_shutdown()
        await worker
    await broker.shutdown()


@pytest.mark.parametrize("name", ["CBORSerializer", "ORJSONSerializer", "JSONSerializer"])
def test_every_serializer_carries_models_and_paths(name: str) -> None:
    import zq.serializers

    serializer = getattr(zq.serializers, name)()
    value = [Point(x=1, where="/a"), pathlib.Path("/b")]
    assert serializer.loadb(serializer.dumpb(value)) == [{"x": 1, "where": "/a"}, "/b"]
    with pytest.raises(TypeError):
        serializer.dumpb(object())
