"""What the dispatcher tells observers: its status, task history, dead letters.

Part of the dispatcher (it owns one and is the only caller). Observers (``zq status``,
``zq task show``, the dashboard, ``broker.task_info``) ask with a ``Query``; this answers from
the ledger, the peers, the counters and the history, all read when asked, so a dispatcher
nobody observes pays only for the history (one tuple per finished task) and a sample of its
counters per tick. The answers are plain msgpack values: their schema is the one
``zq status --json`` prints (``docs/observing.md``).
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zq.actors.dispatcher_api import PurgeDeadLetters, ReplayDeadLetters, held
from zq.actors.outcomes import Outcomes
from zq.core import history as hist
from zq.core.history import History, Raw, Record
from zq.core.messages import ROLE_EXECUTOR, ROLE_OBSERVER, Answer, Hello, Query, TaskMsg

if TYPE_CHECKING:
    from zq.actors.dispatcher import Dispatcher

RATE_WINDOW_S = 60.0  # throughput is reported over the last minute
MAX_LISTED = 1000  # tasks one ``tasks`` answer lists at most
MIN_PUSH_S = 0.2  # the shortest period a subscribed observer gets the status at


@dataclass(slots=True, frozen=True)
class Inspect:
    """Ask (in the dispatcher's own process): the answer ``Query(what, args)`` would get."""

    what: str
    args: dict[str, Any] = field(default_factory=dict)


class Inspection:
    """Answers observers' queries about one dispatcher."""

    def __init__(self, dispatcher: Dispatcher, outcomes: Outcomes, history_limit: int) -> None:
        self.history = History(history_limit)
        outcomes.history = self.history  # where the dispatcher's outcomes record task ends
        outcomes.now = dispatcher._now
        if dispatcher.records.journal is not None and history_limit:  # and onto disk
            outcomes.keep = lambda raw: dispatcher.records.history(self.record(raw))
        self._dispatcher = dispatcher
        self._ledger = dispatcher._ledger
        self._peers = dispatcher.peers
        self._stats = dispatcher.stats
        self._now = dispatcher._now
        self._offset = 0.0  # wall clock minus the loop's clock (set at start)
        self._started = time.time()
        self._names: dict[bytes, str] = {}  # every executor session seen: "pid 812 on host-a"
        self._samples: deque[tuple[float, int, int]] = deque()  # (at, submitted, completed)
        self._send = dispatcher._send
        # Observers that asked for the status pushed to them: peer -> (ref, every, next due)
        self._subscribers: dict[bytes, tuple[int, float, float]] = {}

    def start(self) -> None:
        """The dispatcher runs: fix the wall clock's offset from the loop's."""
        self._started = time.time()
        self._offset = self._started - self._now()

    def wall(self, at: float) -> float:
        """A time of the loop's clock as a Unix time."""
        return at + self._offset

    def worker(self, peer: bytes | None) -> str | None:
        """An executor session by name (``pid 812 on host-a``), or None for no peer."""
        if peer is None:
            return None
        return self._names.get(peer) or peer.hex()[:12]

    def joined(self, peer: bytes, hello: Hello) -> None:
        """A peer said hello: an executor's name is kept for the history of its runs."""
        if hello.role == ROLE_EXECUTOR:
            self._names[peer] = f"pid {hello.pid} on {hello.hostname}"

    def sample(self, now: float) -> None:
        """Each tick: the counters, for the rates over the last minute; pushed statuses."""
        samples = self._samples
        samples.append((now, self._stats.submitted, self._stats.completed))
        while len(samples) > 2 and samples[1][0] <= now - RATE_WINDOW_S:
            samples.popleft()
        if self._subscribers:
            self._push(now)

    def _push(self, now: float) -> None:
        """The status, to each subscribed observer whose time has come (gone ones dropped)."""
        status: dict[str, Any] | None = None
        for peer, (ref, every, due) in list(self._subscribers.items()):
            if peer not in self._peers:  # it said bye, or went silent
                del self._subscribers[peer]
            elif now >= due:
                status = status or self.status()
                self._subscribers[peer] = (ref, every, now + every)
                self._send(peer, Answer(ref, status))

    def query(self, peer: bytes, query: Query) -> None:
        """An observer's ``Query``: answered at once (a ``subscribe`` also on each tick)."""
        if query.what == "subscribe":
            every = max(MIN_PUSH_S, float(query.args.get("every", 1.0)))
            self._subscribers[peer] = (query.ref, every, self._now() + every)
            self._send(peer, Answer(query.ref, self.status()))
            return
        self._send(peer, self.answer(query))

    def restore(self, record: Record) -> None:
        """A finished task's record from the journal (oldest first)."""
        self.history.keep(record["id"], record)

    def record(self, raw: Raw) -> Record:
        """A finished task's record (for the journal, and for answers)."""
        return hist.record(raw, self.wall, self.worker, args=True)

    # --- answers --------------------------------------------------------------------------

    def answer(self, query: Query) -> Answer:
        """The answer to an observer's ``Query``."""
        try:
            return Answer(query.ref, self.ask(Inspect(query.what, query.args)))
        except (ValueError, TypeError, KeyError) as exc:
            return Answer(query.ref, None, f"bad query {query.what!r}: {exc}")

    def ask(self, message: Inspect) -> Any:
        """The answer to ``message`` (raises ``ValueError`` for an unknown question)."""
        what, args = message.what, message.args
        if what == "status":
            return self.status()
        if what == "task":
            return self.task(str(args["id"]), args=bool(args.get("args", False)))
        if what == "tasks":
            return self.tasks(
                args.get("state"), args.get("name"), args.get("since"), args.get("limit", 100)
            )
        if what == "dead_letters":
            return [self._letter(d) for d in self._dispatcher.records.dead_letters.values()]
        if what == "replay":
            return self._dispatcher.answer(ReplayDeadLetters(args.get("ids")))
        if what == "purge":
            return self._dispatcher.answer(PurgeDeadLetters(args.get("ids")))
        raise ValueError("unknown question")

    def status(self) -> dict[str, Any]:
        """The dispatcher, its workers, its queues and its dead letters, now."""
        d, ledger, stats = self._dispatcher, self._ledger, self._stats
        now = self._now()
        snap = d._snapshot()
        workers = []
        for peer, info in snap["executors"].items():
            workers.append(
                {
                    "id": peer.hex(),
                    "host": info.hostname,
                    "pid": info.pid,
                    "queues": info.queues,
                    "tasks": len(info.tasks),
                    "busy": snap["leases"].get(peer, 0),
                    "slots": info.credit,
                    "ran": info.ran,
                    "last_seen_s": round(d._liveness.silent_for(peer, now), 3),
                }
            )
        submitted, completed = self._rates(now)
        standby = d.standby.peer
        return {
            "dispatcher": {
                "address": d.endpoint,
                "incarnation": d.incarnation,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self._started,
                "uptime_s": round(time.time() - self._started, 3),
                "journal": d.records.journal.path if d.records.journal is not None else None,
                "standby": self.worker(standby) if standby is not None else None,
                "observers": sum(1 for i in self._peers.values() if i.role == ROLE_OBSERVER),
                "producers": snap["producers"],
            },
            "workers": workers,
            "queues": ledger.census(),
            "totals": {
                "pending": snap["pending"],
                "delayed": snap["delayed"],
                "running": snap["leased"],
                "held": held(snap),
                "dead_letters": len(d.records.dead_letters),
            },
            "rates": {"submitted_per_s": submitted, "completed_per_s": completed},
            "counters": {name: getattr(stats, name) for name in stats.__slots__},
        }

    def task(self, task_id: str, *, args: bool = False) -> Record | None:
        """Everything known about one task: finished (history) or not (the ledger), or None."""
        entry = self._ledger.entry(task_id)
        if entry is not None:
            state = "running" if entry.holder else "delayed" if entry.due else "pending"
            kicked = self.wall(entry.kicked_at) if entry.kicked_at else None
            rec = hist.base(entry.task, state, kicked, args=args)
            runs = self.history.runs_of(task_id)
            rec["attempts"] = [hist.attempt(run, self.wall, self.worker) for run in runs]
            if entry.holder is not None:
                rec["attempts"].append(
                    {"worker": self.worker(entry.holder), "assigned_at": self.wall(entry.leased_at)}
                )
            rec.update(finished_at=None, reason="", result=None)
            return rec
        kept = self.history.get(task_id)
        if kept is None:
            letter = self._dispatcher.records.dead_letters.get(task_id)
            return None if letter is None else self._letter(letter)
        rec = self._as_record(kept)
        if not args:
            rec["args"] = None
        return rec

    def tasks(
        self, state: str | None, name: str | None, since: float | None, limit: int = 100
    ) -> list[Record]:
        """Finished tasks, newest first, by state, task name and finish time (a Unix time)."""
        if state is not None and state not in hist.STATES:
            raise ValueError(f"state must be one of {', '.join(hist.STATES)}, not {state!r}")
        found: list[Record] = []
        for kept in self.history.newest():
            if len(found) >= min(int(limit), MAX_LISTED):
                break
            task_name = kept["name"] if isinstance(kept, dict) else kept[0].task_name
            task_state = hist.state_of(kept)
            if (state and task_state != state) or (name and task_name != name):
                continue
            rec = self._as_record(kept)
            if since is not None and (rec["finished_at"] or 0) < since:
                break  # newest first: the rest finished earlier
            rec["args"] = None
            found.append(rec)
        return found

    def _as_record(self, kept: Raw | Record) -> Record:
        """A kept entry as a fresh record (one from the journal is one already)."""
        return dict(kept) if isinstance(kept, dict) else self.record(kept)

    def _rates(self, now: float) -> tuple[float, float]:
        """Tasks submitted and completed per second over the last minute (or since start)."""
        if not self._samples:
            return 0.0, 0.0
        at, submitted, completed = self._samples[0]
        span = now - at
        if span <= 0:
            return 0.0, 0.0
        stats = self._stats
        return (
            round((stats.submitted - submitted) / span, 2),
            round((stats.completed - completed) / span, 2),
        )

    def _letter(self, letter: Any) -> Record:
        """A dead letter as a record."""
        task = TaskMsg(letter.task_id, letter.task_name, b"", letter.labels, letter.queue)
        rec = hist.base(task, "dead", None, args=False)
        rec.update(finished_at=None, attempts=[], reason=letter.reason, result=None)
        return rec
