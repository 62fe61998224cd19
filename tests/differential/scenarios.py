"""Scenarios run on taskiq's InMemoryBroker, zq's InMemoryBroker and zq with real workers.

Each takes ``(T, broker, tasks, tmp)`` and returns plain data; the tests compare it across
the three. Where zq deliberately differs, the scenario returns what differs under a key the
test checks separately (and says why there).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.differential.userapp import Point, events

WAIT = 20.0


async def result_of(task: Any) -> Any:
    return await task.wait_result(timeout=WAIT, check_interval=0.01)


def error_summary(result: Any) -> list[Any]:
    error = result.error
    return [result.is_err, type(error).__name__, str(error)]


async def basics(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    add, sync_mul = tasks["add"], tasks["sync_mul"]
    return {
        "add": (await result_of(await add.kiq(2, 3))).return_value,
        "cast": (await result_of(await add.kiq("2", "3"))).return_value,
        "sync": (await result_of(await sync_mul.kiq(4, 5))).return_value,
        "local_call": await add(1, 1),
        "find": broker.find_task("diff:add") is add,
        "all": "diff:add" in broker.get_all_tasks(),
        "name": add.task_name,
    }


async def return_cast(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    result = await result_of(await tasks["shift"].kiq({"x": "1", "y": 2}, by=10))
    return [result.return_value, isinstance(result.return_value, Point)]


async def labels(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    task = tasks["labels"]
    kicked = await task.kicker().with_labels(n=5, flag=True).kiq()
    plain = await task.kiq()
    shared = tasks["shared"]
    T.async_shared_broker.default_broker(broker)
    first = await result_of(await shared.kicker().with_labels(extra=1).kiq(1))
    second = await result_of(await shared.kiq(2))
    return {
        "kicked": (await result_of(kicked)).return_value,
        "plain": (await result_of(plain)).return_value,
        "task_labels_after": sorted(task.labels),
        "shared_first": first.return_value,
        "shared_second": second.return_value,
        "shared_labels_after": sorted(shared.labels),
    }


async def dependencies(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    token = f"d{os.getpid()}{id(broker)}"
    ok = await result_of(await tasks["deps"].kiq(token))
    failed = await result_of(await tasks["deps_fail"].kiq(token + "f"))
    clock = await result_of(await tasks["clock"].kiq())
    return {
        "value": ok.return_value[1:],
        "failed": [str(v).replace(token, "T") for v in error_summary(failed)],
        "teardown": [e.replace(token, "T") for e in events("dep ") if token in e],
        "override": clock.return_value,
    }


async def retries(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    token = f"r{id(broker)}"
    two = await result_of(await tasks["flaky"].kiq(token + "a", 2))
    never = await result_of(await tasks["flaky"].kiq(token + "b", 5))
    smart = await result_of(await tasks["smart_flaky"].kiq(token + "c"))
    other = await result_of(await tasks["not_retried"].kiq(token + "d"))
    return {
        "two_failures": [two.return_value.replace(token, "T"), len(events(f"run flaky {token}a"))],
        "out_of_runs": [error_summary(never), len(events(f"run flaky {token}b"))],
        "smart": [smart.return_value.replace(token, "T"), len(events(f"run smart {token}c"))],
        "other_type": [error_summary(other)[1], len(events(f"run not_retried {token}d"))],
    }


async def errors(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    coded = await result_of(await tasks["coded"].kiq("7"))
    hang = await result_of(await tasks["hang"].kiq())
    rejected = await result_of(await tasks["reject"].kiq())
    error = coded.error
    return {
        "coded": [type(error).__name__, error.args, error.code, error.details],
        "timeout": type(hang.error).__name__,
        "rejected": type(rejected.error).__name__,
    }


async def requeue(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    token = f"q{id(broker)}"
    result = await result_of(await tasks["requeue"].kiq(token))
    return [result.return_value, [e.replace(token, "T") for e in events(f"run requeue {token}")]]


async def progress(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    fifo = tmp / f"fifo{id(broker)}"
    os.mkfifo(fifo)
    stored = progress_stored(broker) if T.__name__ == "taskiq" else None
    task = await tasks["progress"].kiq(str(fifo))
    if stored is None:  # zq: pushed to the client
        seen = await task.wait_progress(timeout=WAIT)
    else:  # taskiq: no push; wait until its backend has stored the progress, then read it
        await asyncio.wait_for(stored.wait(), WAIT)
        seen = await task.get_progress()
    assert seen is not None
    state = [str(getattr(seen.state, "value", seen.state)), seen.meta]
    await asyncio.to_thread(fifo.write_text, "finished")
    result = await result_of(task)
    return {"while_running": state, "result": result.return_value}


def progress_stored(broker: Any) -> asyncio.Event:
    """An event set once ``broker``'s result backend has stored a progress (taskiq's own)."""
    stored = asyncio.Event()
    backend = broker.result_backend
    set_progress = backend.set_progress

    async def storing(*args: Any, **kwargs: Any) -> None:
        await set_progress(*args, **kwargs)
        stored.set()

    backend.set_progress = storing
    return stored


async def middlewares(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    mark = len(events("mw "))
    ok = await result_of(await tasks["mw_echo"].kiq(3))
    failed = await result_of(await tasks["mw_fail"].kiq())
    logged = events("mw ")[mark:]
    client = ("pre_send", "post_send")
    return {
        "results": [ok.return_value, error_summary(failed)],
        "client": [e for e in logged if any(h in e for h in client)],
        "worker": [e for e in logged if not any(h in e for h in client)],
    }


async def events_and_state(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    result = await result_of(await tasks["deps"].kiq("state"))
    return result.return_value[1]  # computed from the state the WORKER_STARTUP handler set


async def nested_kick(T: ModuleType, broker: Any, tasks: dict[str, Any], tmp: Path) -> Any:
    return (await result_of(await tasks["parent"].kiq(4))).return_value


SCENARIOS = [
    basics,
    return_cast,
    labels,
    dependencies,
    retries,
    errors,
    requeue,
    progress,
    middlewares,
    events_and_state,
    nested_kick,
]
