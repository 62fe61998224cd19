"""A binding process says what its configuration guarantees, and never drops tasks silently.

The first steps of issue 17: the start-up line names the guarantee; stopping with tasks not
yet run says how many and which (ERROR without a journal: they are lost; INFO with one: they
are kept for the next start). Passing them on (drain, takeover) is the rest of that issue.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from zq import ZeroMQBroker
from zq.core.messages import TaskMsg
from zq.kicker import AsyncKicker

NAME = "nowhere:never_runs"  # no worker is connected: these stay pending


async def kick_unrun(broker: ZeroMQBroker, count: int) -> list[str]:
    """Kick ``count`` tasks that no worker will take (none is connected)."""
    ids = []
    for n in range(count):
        task = await AsyncKicker(NAME, broker, {}).with_task_id(f"unrun-{n:02d}").kiq()
        ids.append(task.task_id)
    return ids


async def test_without_a_journal_the_start_up_line_warns_and_a_stop_names_the_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*")
    with caplog.at_level(logging.INFO, "zq"):
        await broker.startup()
        assert "no journal: a crash of this process loses the tasks it holds" in caplog.text
        ids = await kick_unrun(broker, 12)
        await broker.shutdown()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "stopping with 12 task(s) not run, lost (no journal)" in errors[0]
    assert ids[0] in errors[0] and "and 2 more" in errors[0]


async def test_with_a_journal_a_stop_says_the_tasks_are_kept(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.db"
    broker = ZeroMQBroker("tcp://127.0.0.1:*", journal=str(journal))
    with caplog.at_level(logging.INFO, "zq"):
        await broker.startup()
        assert f"journal {journal}: unfinished tasks survive" in caplog.text
        await kick_unrun(broker, 3)
        await broker.shutdown()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"stopping with 3 unfinished task(s), kept in journal {journal}" in caplog.text


async def test_a_stop_with_nothing_left_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    broker = ZeroMQBroker("tcp://127.0.0.1:*")
    with caplog.at_level(logging.INFO, "zq"):
        await broker.startup()
        await broker.shutdown()
    assert "stopping with" not in caplog.text


async def test_a_binder_that_stops_hands_its_standby_the_tasks_and_dead_letters() -> None:
    """In one process for speed: A binds, B joins (the standby). A stops with a task pending
    (no worker) and a dead letter; B takes the address over with both."""
    a = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    await a.startup()
    b = ZeroMQBroker(a.endpoint, heartbeat_s=0.2, liveness_timeout_s=1.0)
    await b.startup()
    assert a.dispatcher is not None and b.dispatcher is None
    await a.wait_until(lambda s: s["standby"] is not None)
    pending = await kick_unrun(a, 1)  # copied to B before kiq() returned
    a.dispatcher.records.dead(TaskMsg("dead-1", NAME, b"\x90"), "poisoned", None)
    report = await a.shutdown()  # no worker: it waits a second for one, then stops
    assert report.unfinished == tuple(pending) and report.kept_by is not None
    assert report.kept_by.startswith("the standby")
    dispatcher = await asyncio.wait_for(b.wait_bound(), 10)
    stats = await b.stats()
    assert stats["pending"] == 1  # A's task, from B's copy
    assert [d.task_id for d in await b.dead_letters()] == ["dead-1"]
    assert dispatcher is b.dispatcher
    await b.shutdown()
