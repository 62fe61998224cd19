"""The dispatcher's journal: accepted tasks, results and dead letters in SQLite (WAL mode).

The dispatcher collects what changed during one batch and writes it in one transaction
(``commit``): a group commit, so the cost of a commit is paid per batch, not per task. A task
is in ``tasks`` from the commit after it was accepted until the commit after its result (or its
dead-lettering); on restart, ``load`` gives back every task still there, and the dispatcher
queues them again: nothing acknowledged to ``kiq()`` is lost to a crash of this process.

``synchronous=NORMAL`` (the default) survives the process being killed (the WAL is in the OS's
cache); ``"FULL"`` also survives a power cut, at the cost of an fsync per commit.

Checkpoints (copying the WAL into the database file, with an fsync) run on a background thread
with its own connection, so the event loop that commits never waits for them.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import msgspec

from zq.messages import ResultMsg, TaskMsg

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, origin BLOB, body BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, at REAL NOT NULL, body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_at ON results (at);
CREATE TABLE IF NOT EXISTS dead (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, reason TEXT NOT NULL, origin BLOB, body BLOB NOT NULL
) WITHOUT ROWID;
"""
# WITHOUT ROWID: the task id is the table's own key, one B-tree per row instead of a table and
# an index; ``seq`` keeps the acceptance order for recovery.

_task_encoder = msgspec.msgpack.Encoder()
_task_decoder = msgspec.msgpack.Decoder(TaskMsg)
_result_decoder = msgspec.msgpack.Decoder(ResultMsg)


@dataclass(slots=True)
class Changes:
    """What one batch changed, to be written in one transaction."""

    added: dict[str, tuple[bytes | None, TaskMsg]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    results: list[ResultMsg] = field(default_factory=list)
    dead: list[tuple[str, str, bytes | None, TaskMsg]] = field(default_factory=list)
    undead: list[str] = field(default_factory=list)  # replayed or purged dead letters

    def __bool__(self) -> bool:
        return bool(self.added or self.done or self.results or self.dead or self.undead)

    def size(self) -> int:
        """Rows this batch will write (roughly)."""
        return len(self.added) + len(self.done) + len(self.results)


@dataclass(slots=True)
class Recovered:
    """What a journal held when it was opened."""

    tasks: list[tuple[bytes | None, TaskMsg]]
    results: list[ResultMsg]
    dead: list[tuple[str, bytes | None, TaskMsg]]


class Journal:
    """One SQLite file owned by one dispatcher."""

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError("journal synchronous must be 'NORMAL' or 'FULL'")
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        self._db.executescript(_SCHEMA)
        (last,) = self._db.execute(
            "SELECT max(seq) FROM (SELECT max(seq) AS seq FROM tasks "
            "UNION ALL SELECT max(seq) FROM dead)"
        ).fetchone()
        self._seq = itertools.count((last or 0) + 1)
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="zq-journal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, interval_s: float = 1.0) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._stop.wait(interval_s):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:  # busy: the next round catches up
                    continue
        finally:
            db.close()

    def load(self, result_ttl_s: float) -> Recovered:
        """Every unfinished task (in acceptance order), the unexpired results, the dead letters."""
        db = self._db
        db.execute("DELETE FROM results WHERE at < ?", (time.time() - result_ttl_s,))
        tasks = [
            (origin, _task_decoder.decode(body))
            for origin, body in db.execute("SELECT origin, body FROM tasks ORDER BY seq")
        ]
        results = [
            _result_decoder.decode(body)
            for (body,) in db.execute("SELECT body FROM results ORDER BY at")
        ]
        dead = [
            (reason, origin, _task_decoder.decode(body))
            for reason, origin, body in db.execute(
                "SELECT reason, origin, body FROM dead ORDER BY seq"
            )
        ]
        return Recovered(tasks, results, dead)

    def commit(self, changes: Changes) -> None:
        """Write one batch's changes in one transaction."""
        encode = _task_encoder.encode
        now = time.time()
        db = self._db
        done = changes.done
        added = changes.added
        if added and done:  # accepted and finished within one batch: never written
            done = [task_id for task_id in done if added.pop(task_id, None) is None]
        db.execute("BEGIN")
        try:
            if added:
                seq = self._seq
                db.executemany(
                    "INSERT OR IGNORE INTO tasks (id, seq, origin, body) VALUES (?, ?, ?, ?)",
                    [(task_id, next(seq), o, encode(t)) for task_id, (o, t) in added.items()],
                )
            if done:
                db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in done])
            if changes.results:
                db.executemany(
                    "INSERT OR REPLACE INTO results (id, at, body) VALUES (?, ?, ?)",
                    [(r.task_id, now, encode(r)) for r in changes.results],
                )
            if changes.undead:
                db.executemany("DELETE FROM dead WHERE id = ?", [(i,) for i in changes.undead])
            if changes.dead:
                seq = self._seq
                db.executemany(
                    "INSERT OR REPLACE INTO dead (id, seq, reason, origin, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(i, next(seq), reason, o, encode(t)) for i, reason, o, t in changes.dead],
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def expire(self, result_ttl_s: float) -> None:
        """Drop results older than the TTL."""
        self._db.execute("DELETE FROM results WHERE at < ?", (time.time() - result_ttl_s,))

    def close(self) -> None:
        """Close the file (everything committed is already on disk)."""
        self._stop.set()
        self._checkpointer.join()
        self._db.close()
