"""schedule_by_* on a task, the SQLite source, and pre_send cancelling a run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from zq import InMemoryBroker, ScheduledTaskCancelledError, SQLiteScheduleSource, TaskiqScheduler
from zq.core.timetable import Slot
from zq.scheduler import ScheduledTask


async def test_schedule_by_cron_interval_time_then_kiq_and_unschedule(tmp_path: Path) -> None:
    broker = InMemoryBroker()

    @broker.task
    async def job(x: int) -> int:
        return x * 10

    source = SQLiteScheduleSource(str(tmp_path / "s.db"))
    a = await job.schedule_by_cron(source, "*/5 * * * *", 1)
    b = await job.schedule_by_interval(source, 10, 2)
    c = await job.schedule_by_time(source, datetime(2030, 1, 1), 3)
    got = {t.schedule_id: t for t in await source.get_schedules()}
    assert set(got) == {a.schedule_id, b.schedule_id, c.schedule_id}
    assert (got[a.schedule_id].cron, got[a.schedule_id].args) == ("*/5 * * * *", [1])
    assert got[b.schedule_id].interval == 10 and got[c.schedule_id].time is not None
    await b.unschedule()
    assert {t.schedule_id for t in await source.get_schedules()} == {a.schedule_id, c.schedule_id}
    await source.pause(a.schedule_id)
    assert [t.schedule_id for t in await source.get_schedules()] == [c.schedule_id]
    await broker.startup()
    result = await (await a.kiq()).wait_result(timeout=5)
    assert result.return_value == 10
    await broker.shutdown()
    await source.shutdown()


async def test_pre_send_can_cancel_a_run(tmp_path: Path) -> None:
    broker = InMemoryBroker()

    @broker.task
    async def job() -> None: ...

    class Refusing(SQLiteScheduleSource):
        def pre_send(self, task: ScheduledTask) -> None:
            raise ScheduledTaskCancelledError("not today")

    source = Refusing(str(tmp_path / "s.db"))
    scheduler = TaskiqScheduler(broker, [source])
    await scheduler.startup()
    task = ScheduledTask(task_name=job.task_name, interval=5)
    slot = Slot("1", datetime(2026, 1, 1))
    assert await scheduler.on_ready(source, task, slot) is None
    plain = TaskiqScheduler(broker, [SQLiteScheduleSource(str(tmp_path / "t.db"))])
    assert await plain.on_ready(plain.sources[0], task, slot) == f"{task.schedule_id}@1"
    await scheduler.shutdown()


async def test_a_fired_one_off_schedule_is_no_longer_listed(tmp_path: Path) -> None:
    broker = InMemoryBroker()

    @broker.task
    async def job(x: int) -> None: ...

    source = SQLiteScheduleSource(str(tmp_path / "s.db"))
    once = await job.schedule_by_time(source, datetime(2030, 1, 1), 1)
    every = await job.schedule_by_interval(source, 10, 2)
    scheduler = TaskiqScheduler(broker, [source])
    await scheduler.startup()
    for created in (once, every):
        await scheduler.on_ready(source, created.task, Slot("1", datetime(2030, 1, 1)))
    assert [t.schedule_id for t, _ in source.list()] == [every.schedule_id]
    await scheduler.shutdown()
    await source.shutdown()
