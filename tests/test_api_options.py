"""Registration forms and receiver options, on InMemoryBroker (same pipeline as a worker)."""

from __future__ import annotations

from typing import Any

import pytest

from zq import Context, InMemoryBroker, SmartRetryMiddleware, TaskiqDepends, TaskiqMessage
from zq.exceptions import TaskBrokerMismatchError


async def test_every_registration_form() -> None:
    broker = InMemoryBroker()

    @broker.task
    async def bare(x: int) -> int:
        return x

    @broker.task()
    async def called(x: int) -> int:
        return x + 1

    @broker.task("custom:name", priority=3)
    async def named(x: int) -> int:
        return x + 2

    def plain(x: int) -> int:
        return x + 3

    registered = broker.register_task(plain, "custom:plain")
    assert bare.task_name == f"{__name__}:bare" and called.task_name == f"{__name__}:called"
    assert named.labels == {"priority": 3}
    assert set(broker.get_all_tasks()) >= {bare.task_name, "custom:name", "custom:plain"}
    assert plain(1) == 4 and registered(1) == 4  # still callable locally
    async with broker:
        values = [
            (await (await t.kiq(1)).wait_result()).return_value
            for t in (bare, called, named, registered)
        ]
    assert values == [1, 2, 3, 4]


def test_a_task_of_another_broker_cannot_be_registered() -> None:
    one, two = InMemoryBroker(), InMemoryBroker()
    task = one.register_task(lambda: None, "t")
    with pytest.raises(TaskBrokerMismatchError):
        two._register_task("t", task)


async def test_casting_can_be_turned_off() -> None:
    broker = InMemoryBroker(cast_types=False)

    @broker.task
    async def kind(a: int) -> str:
        return type(a).__name__

    async with broker:
        assert (await (await kind.kiq("2")).wait_result()).return_value == "str"


@pytest.mark.parametrize("propagate", [True, False])
async def test_errors_reach_generator_dependencies_only_when_propagated(propagate: bool) -> None:
    seen: list[str] = []

    async def resource() -> Any:
        try:
            yield 1
        except ValueError:
            seen.append("saw the error")
            raise
        finally:
            seen.append("closed")

    broker = InMemoryBroker(propagate_exceptions=propagate)

    @broker.task
    async def failing(res: int = TaskiqDepends(resource)) -> None:
        raise ValueError("x")

    async with broker:
        result = await (await failing.kiq()).wait_result()
    assert isinstance(result.error, ValueError)
    assert seen == (["saw the error", "closed"] if propagate else ["closed"])


async def test_a_fresh_dependency_context_per_task() -> None:
    broker = InMemoryBroker()
    broker.add_dependency_context({str: "shared"})

    @broker.task
    async def ids(context: Context = TaskiqDepends()) -> str:
        return context.message.task_id

    async with broker:
        first, second = await ids.kiq(), await ids.kiq()
        assert (await first.wait_result()).return_value == first.task_id
        assert (await second.wait_result()).return_value == second.task_id
    assert broker.custom_dependency_context == {str: "shared"}  # never written by a task


def test_smart_retry_backoff_is_exponential_capped_and_jittered() -> None:
    message = TaskiqMessage(task_id="i", task_name="t", labels={}, args=[], kwargs={})
    plain = SmartRetryMiddleware(default_delay=1, use_delay_exponent=True, max_delay_exponent=5)
    assert [plain.make_delay(message, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
    fixed = SmartRetryMiddleware(default_delay=2)
    assert [fixed.make_delay(message, n) for n in (1, 4)] == [2, 2]
    jittered = SmartRetryMiddleware(default_delay=4, use_jitter=True)
    delays = {jittered.make_delay(message, 1) for _ in range(50)}
    assert all(2 <= d <= 6 for d in delays) and len(delays) > 1
    retry = TaskiqMessage(
        task_id="i", task_name="t", labels={"delay": 3.7, "_retry_delay": 1}, args=[], kwargs={}
    )
    assert plain.make_delay(retry, 2) == 2  # the base, not the previous delay, is doubled


async def test_in_memory_broker_fires_client_and_worker_events_with_the_state() -> None:
    from zq import TaskiqEvents

    broker = InMemoryBroker()
    fired: list[str] = []
    for event in TaskiqEvents:
        broker.add_event_handler(event, lambda state, e=event: fired.append(e.value))
    async with broker:
        pass
    assert fired == ["CLIENT_STARTUP", "WORKER_STARTUP", "CLIENT_SHUTDOWN", "WORKER_SHUTDOWN"]
