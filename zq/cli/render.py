"""How ``zq status``, ``zq task show`` and ``zq tasks`` print the dispatcher's answers."""

from __future__ import annotations

import datetime
from typing import Any

from zq.abc.serializer import TaskiqSerializer


def status(answer: dict[str, Any]) -> str:
    """``zq status``'s human output."""
    d, totals, rates = answer["dispatcher"], answer["totals"], answer["rates"]
    lines = [
        f"dispatcher {d['address']}  pid {d['pid']} on {d['host']}  up {age(d['uptime_s'])}  "
        f"incarnation {d['incarnation'][:12]}",
        f"  journal: {d['journal'] or 'none'}   standby: {d['standby'] or 'none'}   "
        f"producers joined: {d['producers']}   observers: {d['observers']}",
        "",
        f"workers: {len(answer['workers'])}",
    ]
    rows = [[h.upper() for h in WORKER_COLUMNS], *worker_rows(answer["workers"])]
    lines += table(rows) if answer["workers"] else ["  (none connected)"]
    lines += ["", f"queues: {len(answer['queues'])}"]
    rows = [[h.upper() for h in QUEUE_COLUMNS], *queue_rows(answer["queues"])]
    lines += table(rows) if answer["queues"] else ["  (no task held)"]
    lines += [
        "",
        f"totals: {totals['pending']} pending, {totals['delayed']} delayed, "
        f"{totals['running']} running, {totals['dead_letters']} dead letters",
        f"last minute: {rates['submitted_per_s']:g} submitted/s, "
        f"{rates['completed_per_s']:g} completed/s",
    ]
    return "\n".join(lines)


WORKER_COLUMNS = ("host", "pid", "queues", "busy/slots", "ran", "last seen")
QUEUE_COLUMNS = ("queue", "pending", "by priority", "delayed", "running")


def worker_rows(workers: list[dict[str, Any]]) -> list[list[str]]:
    """The workers of a status, a row of text each (``zq status``, the dashboard)."""
    return [
        [w["host"], str(w["pid"]), ",".join(w["queues"]) or "*", f"{w['busy']}/{w['slots']}",
         str(w["ran"]), f"{w['last_seen_s']:.1f}s ago"]
        for w in workers
    ]  # fmt: skip


def queue_rows(queues: dict[str, Any]) -> list[list[str]]:
    """The queues of a status, by name, a row of text each: pending by priority (highest first)."""
    rows = []
    for name, q in sorted(queues.items()):
        levels = q["pending"]
        by = ", ".join(f"{p}: {n}" for p, n in sorted(levels.items(), key=lambda i: -int(i[0])))
        pending = str(sum(levels.values()))
        rows.append([name, pending, by or "-", str(q["delayed"]), str(q["running"])])
    return rows


def task(rec: dict[str, Any], serializer: TaskiqSerializer | None = None) -> str:
    """``zq task show``'s human output."""
    lines = [
        f"task {rec['id']}  {rec['name']}",
        f"  state: {rec['state']}   queue: {rec['queue']}",
        f"  kicked: {when(rec['kicked_at'])}   finished: {when(rec.get('finished_at'))}",
    ]
    if rec["labels"]:
        lines.append(f"  labels: {rec['labels']}")
    if rec.get("reason"):
        lines.append(f"  reason: {rec['reason']}")
    if rec.get("args") is not None:
        lines.append(f"  arguments: {value(rec['args'], serializer)}")
    for number, run in enumerate(rec.get("attempts", []), 1):
        lines.append(f"attempt {number}: {run['worker'] or 'no worker'}")
        took = run.get("run_time")
        lines.append(
            f"  assigned {when(run.get('assigned_at'))}, ended {when(run.get('finished_at'))}"
            + (f", ran {took * 1000:.1f} ms" if took is not None else "")
        )
        error = run.get("error")
        if error:
            lines.append(f"  error: {error['type']}: {error['message']}")
            lines += ["    " + t for t in error["traceback"].rstrip().splitlines()]
        if run.get("log"):
            lines.append("  log:")
            lines += ["    " + t for t in run["log"]]
    if rec.get("result") is not None:
        lines.append(f"result: {value(rec['result'], serializer)}")
    return "\n".join(lines)


def task_list(records: list[dict[str, Any]]) -> str:
    """``zq tasks``'s human output: a line per task."""
    if not records:
        return "(no task in the history matches)"
    rows = [["ENDED", "STATE", "TASK", "ID", "ATTEMPTS"]]
    for rec in records:
        ended = when(rec.get("finished_at"))
        rows.append([ended, rec["state"], rec["name"], rec["id"], str(len(rec["attempts"]))])
    return "\n".join(table(rows))


def jsonable(found: Any, serializer: TaskiqSerializer | None) -> Any:
    """The answer with its encoded values (``result``, ``args``) decoded, for ``--json``."""
    if isinstance(found, list):
        return [jsonable(item, serializer) for item in found]
    if isinstance(found, dict):
        return {
            k: decoded(v, serializer) if isinstance(v, bytes) else jsonable(v, serializer)
            for k, v in found.items()
        }
    return found


def decoded(raw: bytes, serializer: TaskiqSerializer | None) -> Any:
    """An encoded value, decoded by the app's serializer, else as text, else its size."""
    if serializer is not None:
        try:
            return serializer.loadb(raw)
        except Exception:  # another serializer than the app's: say what can be said
            pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes>"


def value(raw: Any, serializer: TaskiqSerializer | None) -> str:
    """An encoded value for a person."""
    return repr(decoded(raw, serializer)) if isinstance(raw, bytes) else repr(raw)


def when(at: float | None) -> str:
    """A Unix time as local date and time (to the millisecond), or ``-``."""
    if at is None:
        return "-"
    return datetime.datetime.fromtimestamp(at).isoformat(sep=" ", timespec="milliseconds")


def age(seconds: float) -> str:
    """``3d 4h``, ``4h 12m``, ``12m 5s``, ``5.2s``."""
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60}s"
    return f"{seconds:.1f}s"


def table(rows: list[list[str]]) -> list[str]:
    """Rows as left-aligned columns, indented by two."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
