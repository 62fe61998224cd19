"""The last slot each schedule fired, in SQLite (``ScheduleState``), and the file's tables.

``ScheduleState`` keeps, per schedule id, the key of the last slot that fired, so a restarted
scheduler neither fires a slot again nor skips one silently. ``zq scheduler`` keeps it in
``--state-file`` for sources that keep none themselves (labels, custom sources);
``SQLiteScheduleSource`` keeps it in its own file, beside the schedules.
"""

from __future__ import annotations

import sqlite3
import time as _time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fired (schedule_id TEXT PRIMARY KEY, slot TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedules (
    schedule_id TEXT PRIMARY KEY, task_name TEXT NOT NULL, spec TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
);
"""


def connect(path: str, timeout_s: float = 10.0) -> sqlite3.Connection:
    """Open the schedule file in WAL mode with its tables (the source's and the state's)."""
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
            self._conn = connect(self.path)
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
