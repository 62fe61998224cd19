"""``SQLiteScheduleSource``: schedules in SQLite, beside their last-fired slots (``ScheduleState``).

It is the dynamic source: schedules added, paused, resumed and deleted
at runtime, from Python or with ``zq schedules``; a running scheduler sees a change at once (it
watches the file). Arguments, keyword arguments and labels are stored as JSON.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time as _time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from zq.scheduler import ScheduledTask, ScheduleSource
from zq.storage.schedule_state import ScheduleState, connect


def to_spec(task: ScheduledTask) -> dict[str, Any]:
    """``task`` as JSON-able data (arguments must be JSON-able)."""
    offset = task.cron_offset
    return {
        "labels": task.labels,
        "args": task.args,
        "kwargs": task.kwargs,
        "task_id": task.task_id,
        "cron": task.cron,
        "cron_offset": {"seconds": offset.total_seconds()}
        if isinstance(offset, timedelta)
        else offset,
        "time": at.isoformat() if (at := task.timetable.time) is not None else None,
        "interval": task.timetable.interval_s if task.interval is not None else None,
        "missed": task.missed,
    }


def from_spec(schedule_id: str, task_name: str, spec: dict[str, Any]) -> ScheduledTask:
    """The ``ScheduledTask`` that ``to_spec`` stored."""
    offset = spec.get("cron_offset")
    interval = spec.get("interval")
    return ScheduledTask(
        task_name=task_name,
        labels=spec.get("labels") or {},
        args=spec.get("args") or [],
        kwargs=spec.get("kwargs") or {},
        task_id=spec.get("task_id"),
        schedule_id=schedule_id,
        cron=spec.get("cron"),
        cron_offset=timedelta(seconds=offset["seconds"]) if isinstance(offset, dict) else offset,
        time=datetime.fromisoformat(spec["time"]) if spec.get("time") else None,
        interval=int(interval) if interval is not None else None,
        missed=spec.get("missed", "once"),
    )


class SQLiteScheduleSource(ScheduleSource):
    """Schedules in a SQLite file, changed at runtime; they survive restarts."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._db: sqlite3.Connection | None = None
        self.state = ScheduleState(self.path)

    @property
    def db(self) -> sqlite3.Connection:
        """The connection (opened on first use)."""
        if self._db is None:
            self._db = connect(self.path)
        return self._db

    async def shutdown(self) -> None:
        """Close the file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self.state.close()

    async def get_schedules(self) -> list[ScheduledTask]:
        """The schedules that are not paused."""
        return [task for task, paused in self.list() if not paused]

    def list(self) -> list[tuple[ScheduledTask, bool]]:
        """Every schedule, with whether it is paused, oldest first."""
        rows = self.db.execute(
            "SELECT schedule_id, task_name, spec, paused FROM schedules ORDER BY created"
        ).fetchall()
        return [(from_spec(i, name, json.loads(spec)), bool(p)) for i, name, spec, p in rows]

    async def add_schedule(self, schedule: ScheduledTask) -> None:
        """Add or replace a schedule (replacing it starts its slots afresh)."""
        try:
            spec = json.dumps(to_spec(schedule))
        except TypeError as exc:
            raise ValueError(f"a stored schedule needs JSON-able arguments: {exc}") from exc
        self.db.execute(
            "INSERT OR REPLACE INTO schedules VALUES (?, ?, ?, 0, ?)",
            (schedule.schedule_id, schedule.task_name, spec, _time.time()),
        )
        self.state.forget(schedule.schedule_id)

    async def delete_schedule(self, schedule_id: str) -> None:
        """Remove a schedule (KeyError if there is none by that id)."""
        if not self.db.execute(
            "DELETE FROM schedules WHERE schedule_id = ?", (schedule_id,)
        ).rowcount:
            raise KeyError(f"no schedule {schedule_id!r} in {self.path}")
        self.state.forget(schedule_id)

    async def post_send(self, task: ScheduledTask) -> None:
        """A one-off schedule (``time``) that fired is done: it is removed, no longer listed."""
        if task.time is not None:
            self.db.execute("DELETE FROM schedules WHERE schedule_id = ?", (task.schedule_id,))
            self.state.forget(task.schedule_id)

    async def pause(self, schedule_id: str) -> None:
        """Stop firing a schedule until it is resumed."""
        self._set_paused(schedule_id, True)

    async def resume(self, schedule_id: str) -> None:
        """Fire it again; the slots missed while paused do not fire (it starts afresh)."""
        self._set_paused(schedule_id, False)
        self.state.forget(schedule_id)

    def _set_paused(self, schedule_id: str, paused: bool) -> None:
        cursor = self.db.execute(
            "UPDATE schedules SET paused = ? WHERE schedule_id = ?", (int(paused), schedule_id)
        )
        if not cursor.rowcount:
            raise KeyError(f"no schedule {schedule_id!r} in {self.path}")

    def watch(self, changed: Callable[[], None]) -> BaseObserver:
        """Call ``changed`` (from a watchdog thread) when the file changes; returns the observer."""
        name = os.path.basename(self.path)

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if os.path.basename(str(event.src_path)).startswith(name):
                    changed()

        observer = Observer()
        observer.schedule(Handler(), os.path.dirname(self.path))
        observer.daemon = True
        observer.start()
        return observer
