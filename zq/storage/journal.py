"""The dispatcher's journal: accepted tasks, results and dead letters in SQLite (WAL mode).

The dispatcher collects what changed during one batch and writes it in one transaction
(``commit``): a group commit. The journal is a log, not a table of tasks: each commit writes
at most one row of accepted tasks, one row of finished task ids and one row of results, each
a msgpack blob. Per task that is an encode and a share of a sequential write, instead of an
insert, a delete and an index update per task (a third of the cost, measured: see the README).

A row of accepted tasks is deleted once all of its tasks have finished (this class counts
them), and a row of finished ids once every row of tasks before it is gone. A task that stays
unfinished for long (delayed, or waiting for a worker) would keep the log growing behind it,
so its row is rewritten into the newest commit when it is ``COMPACT_AFTER`` commits old.

On restart, ``load`` replays the log in order: the tasks of every row, minus those finished
after them, are the tasks to queue again. Nothing acknowledged to ``kiq()`` is lost to a crash
of this process.

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
from typing import Any

import msgspec

from zq.core.messages import ResultMsg, TaskMsg

FORMAT = 2  # PRAGMA user_version; 1 (unmarked) was a table with a row per task
COMPACT_AFTER = 1000  # commits an unfinished task's row may age before it is rewritten

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS finished (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (seq INTEGER PRIMARY KEY, at REAL NOT NULL, body BLOB);
CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY, at REAL NOT NULL, body BLOB);
CREATE TABLE IF NOT EXISTS dead (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, reason TEXT NOT NULL, origin BLOB, body BLOB NOT NULL
) WITHOUT ROWID;
"""

Accepted = list[tuple[str, bytes | None, TaskMsg]]  # (task id, origin, task), in order

_encode = msgspec.msgpack.Encoder().encode
_decode_accepted = msgspec.msgpack.Decoder(Accepted).decode
_decode_ids = msgspec.msgpack.Decoder(list[str]).decode
_decode_results = msgspec.msgpack.Decoder(list[ResultMsg]).decode
_decode_task = msgspec.msgpack.Decoder(TaskMsg).decode
_decode_history = msgspec.msgpack.Decoder(list[dict[str, Any]]).decode


@dataclass(slots=True)
class Changes:
    """What one batch changed, to be written in one transaction.

    ``done`` are tasks accepted in an earlier commit; the caller drops a task accepted and
    finished within the same batch from ``added`` instead (it is never written).
    """

    added: dict[str, tuple[bytes | None, TaskMsg]] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    results: list[ResultMsg] = field(default_factory=list)
    dead: list[tuple[str, str, bytes | None, TaskMsg]] = field(default_factory=list)
    undead: list[str] = field(default_factory=list)  # replayed or purged dead letters
    history: list[dict[str, Any]] = field(default_factory=list)  # finished tasks' records

    def __bool__(self) -> bool:
        return bool(self.added or self.done or self.results or self.dead or self.undead)

    def size(self) -> int:
        """Entries this batch will write (roughly)."""
        return len(self.added) + len(self.done) + len(self.results)


@dataclass(slots=True)
class Recovered:
    """What a journal held when it was opened."""

    tasks: list[tuple[bytes | None, TaskMsg]]
    results: list[ResultMsg]
    dead: list[tuple[str, bytes | None, TaskMsg]]
    history: list[dict[str, Any]] = field(default_factory=list)  # oldest first


class Journal:
    """One SQLite file owned by one dispatcher."""

    def __init__(
        self, path: str, synchronous: str = "NORMAL", history_retention_s: float = 86400.0
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError("journal synchronous must be 'NORMAL' or 'FULL'")
        if history_retention_s < 0:
            raise ValueError(f"history retention must not be negative, not {history_retention_s}")
        self.path = path
        self.history_retention_s = history_retention_s
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._check_format()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={FORMAT}")
        (last,) = self._db.execute(
            "SELECT max(seq) FROM (SELECT max(seq) AS seq FROM accepted "
            "UNION ALL SELECT max(seq) FROM finished UNION ALL SELECT max(seq) FROM outcomes "
            "UNION ALL SELECT max(seq) FROM dead UNION ALL SELECT max(seq) FROM history)"
        ).fetchone()
        self._seq = itertools.count((last or 0) + 1)
        self._where: dict[str, int] = {}  # unfinished task id -> seq of its row in `accepted`
        self._live: dict[int, int] = {}  # seq of a row in `accepted` -> its unfinished tasks
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="zq-journal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _check_format(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master")}
        if version > FORMAT or (version < FORMAT and tables):
            self._db.close()
            raise ValueError(
                f"journal {self.path} was written by another version of zq (format "
                f"{version or 1}, this one reads {FORMAT}): drain it with that version, or "
                "start on a new file"
            )

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
        self.expire(result_ttl_s)
        # Replay in commit order; within one commit, finished ids refer to earlier rows.
        log = sorted(
            [(seq, 0, body) for seq, body in db.execute("SELECT seq, body FROM finished")]
            + [(seq, 1, body) for seq, body in db.execute("SELECT seq, body FROM accepted")]
        )
        tasks: dict[str, tuple[int, bytes | None, TaskMsg]] = {}
        for seq, kind, body in log:
            if kind == 0:
                for task_id in _decode_ids(body):
                    tasks.pop(task_id, None)
            else:
                for task_id, origin, task in _decode_accepted(body):
                    tasks.pop(task_id, None)  # accepted again: it moves to the end
                    tasks[task_id] = (seq, origin, task)
        for task_id, (seq, _, _) in tasks.items():
            self._where[task_id] = seq
            self._live[seq] = self._live.get(seq, 0) + 1
        self._live = dict(sorted(self._live.items()))
        with_tasks = set(self._live)
        db.executemany(
            "DELETE FROM accepted WHERE seq = ?",
            [(seq,) for seq, kind, _ in log if kind == 1 and seq not in with_tasks],
        )
        results: dict[str, ResultMsg] = {}
        for (body,) in db.execute("SELECT body FROM outcomes ORDER BY seq"):
            for result in _decode_results(body):
                results.pop(result.task_id, None)
                results[result.task_id] = result
        dead = [
            (reason, origin, _decode_task(body))
            for reason, origin, body in db.execute(
                "SELECT reason, origin, body FROM dead ORDER BY seq"
            )
        ]
        history = [
            record
            for (body,) in db.execute("SELECT body FROM history ORDER BY seq")
            for record in _decode_history(body)
        ]
        unfinished = [(origin, task) for _, origin, task in tasks.values()]
        return Recovered(unfinished, list(results.values()), dead, history)

    def commit(self, changes: Changes) -> None:
        """Write one batch's changes in one transaction."""
        seq = next(self._seq)
        emptied: list[tuple[int]] = []
        finished = self._finish(changes.done, emptied)
        accepted: Accepted = [(i, origin, task) for i, (origin, task) in changes.added.items()]
        if self._live and next(iter(self._live)) < seq - COMPACT_AFTER:
            emptied.append((self._rewrite_oldest(accepted),))
        self._accept(seq, accepted, emptied)
        db = self._db
        db.execute("BEGIN")
        try:
            if finished:
                db.execute("INSERT INTO finished VALUES (?, ?)", (seq, _encode(finished)))
            if accepted:
                db.execute("INSERT INTO accepted VALUES (?, ?)", (seq, _encode(accepted)))
            if emptied:
                db.executemany("DELETE FROM accepted WHERE seq = ?", emptied)
            # finished ids only ever refer to rows before them: useless once those are gone
            db.execute("DELETE FROM finished WHERE seq < ?", (next(iter(self._live), seq),))
            self._write_outcomes(seq, changes)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _release(self, row: int, emptied: list[tuple[int]]) -> None:
        """One task of ``row`` is no longer live there; a row with none left is deleted."""
        live = self._live
        live[row] -= 1
        if not live[row]:
            del live[row]
            emptied.append((row,))

    def _finish(self, done: list[str], emptied: list[tuple[int]]) -> list[str]:
        """The finished ids that were written (the others never reached the disk)."""
        finished: list[str] = []
        for task_id in done:
            row = self._where.pop(task_id, None)
            if row is not None:
                finished.append(task_id)
                self._release(row, emptied)
        return finished

    def _accept(self, seq: int, accepted: Accepted, emptied: list[tuple[int]]) -> None:
        """Point each accepted id at row ``seq``, releasing the row it was live in before."""
        where = self._where
        for task_id, _, _ in accepted:
            row = where.get(task_id)
            if row is not None and row != seq:  # accepted again while still unfinished
                self._release(row, emptied)
            where[task_id] = seq
        if accepted:
            self._live[seq] = len(accepted)

    def _write_outcomes(self, seq: int, changes: Changes) -> None:
        db = self._db
        if changes.results:
            db.execute(
                "INSERT INTO outcomes VALUES (?, ?, ?)",
                (seq, time.time(), _encode(changes.results)),
            )
        if changes.history:
            db.execute(
                "INSERT INTO history VALUES (?, ?, ?)",
                (seq, time.time(), _encode(changes.history)),
            )
        if changes.undead:
            db.executemany("DELETE FROM dead WHERE id = ?", [(i,) for i in changes.undead])
        if changes.dead:
            db.executemany(
                "INSERT OR REPLACE INTO dead VALUES (?, ?, ?, ?, ?)",
                [(i, seq, reason, o, _encode(t)) for i, reason, o, t in changes.dead],
            )

    def _rewrite_oldest(self, accepted: Accepted) -> int:
        """Move the oldest row's unfinished tasks into ``accepted``; returns that row's seq."""
        row = next(iter(self._live))
        del self._live[row]
        (body,) = self._db.execute("SELECT body FROM accepted WHERE seq = ?", (row,)).fetchone()
        where = self._where
        for entry in _decode_accepted(body):
            if where.get(entry[0]) == row:
                del where[entry[0]]  # set again to the new row by the caller
                accepted.append(entry)
        return row

    def expire(self, result_ttl_s: float) -> None:
        """Drop results older than the TTL, and task history older than its retention."""
        now = time.time()
        self._db.execute("DELETE FROM outcomes WHERE at < ?", (now - result_ttl_s,))
        self._db.execute("DELETE FROM history WHERE at < ?", (now - self.history_retention_s,))

    def close(self) -> None:
        """Close the file (everything committed is already on disk)."""
        self._stop.set()
        self._checkpointer.join()
        self._db.close()
