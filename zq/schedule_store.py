"""Schedules and their last-fired slots in SQLite: ``SQLiteScheduleSource`` and ``ScheduleState``.

``ScheduleState`` keeps, per schedule id, the key of the last slot that fired, so a restarted
scheduler neither fires a slot again nor skips one silently. ``zq scheduler`` keeps it in
``--state-file`` for sources that keep none themselves (labels, custom sources);
``SQLiteScheduleSource`` keeps it in its own file, beside the schedules.

``SQLiteScheduleSource`` is the dynamic source: schedules added, paused, resumed and deleted
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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fired (schedule_id TEXT PRIMARY KEY, slot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedules (
    schedule_id TEXT PRIMARY KEY, task_name TEXT NOT NULL, spec TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
);
"""


def _connect(path: str, timeout_s: float = 10.0) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout_s)
    # Switching a new file to WAL can fail at once with "database is locked" while another
    # process does the same (SQLite does not wait there): retry within the same timeout.
    deadline = _time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or _time.monotonic() > deadline:
                db.close()
                raise
            _time.sleep(0.01)


class ScheduleState:
    """The last slot fired, per schedule id (shared safely by schedulers on one host).

    The file is opened on first use: a process that only imports the app (a worker) never
    touches it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = _connect(self.path)
        return self._conn

    def get(self, schedule_id: str) -> str | None:
        """The key of the last slot fired, or None."""
        row = self._db.execute(
            "SELECT slot FROM fired WHERE schedule_id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def put(self, schedule_id: str, slot: str) -> None:
        """Record that ``slot`` fired."""
        self._db.execute("INSERT OR REPLACE INTO fired VALUES (?, ?)", (schedule_id, slot))

    def forget(self, schedule_id: str) -> None:
        """Start afresh (a resumed or deleted schedule)."""
        self._db.execute("DELETE FROM fired WHERE schedule_id = ?", (schedule_id,))

    def close(self) -> None:
        """Close the file."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
            self._db = _connect(self.path)
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
