"""The dashboard's pages, rendered on the server: plain HTML, every value escaped.

The live parts are elements with a ``data-live`` key that ``static/dashboard.js`` fills from
the status the dispatcher pushes (server-sent events); everything else is a normal page and a
normal form, so the pages work (without live updates) with scripts off.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from zq.cli import render

NAV = (
    ("/", "Overview"),
    ("/tasks", "Tasks"),
    ("/dead", "Dead letters"),
    ("/schedules", "Schedules"),
)


def e(value: Any) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, live: str = "") -> str:
    """A whole page: the navigation, then ``body``. ``live``: the event stream to follow."""
    nav = "".join(f'<a href="{href}">{e(name)}</a>' for href, name in NAV)
    stream = f' data-stream="{e(live)}"' if live else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{e(title)} · zq</title>"
        '<link rel=stylesheet href="/static/dashboard.css">'
        '<script defer src="/static/dashboard.js"></script>'
        f"</head><body{stream}><header><b>zq</b><nav>{nav}</nav></header>"
        f"<main><h1>{e(title)}</h1>{body}</main></body></html>"
    )


def table(head: Iterable[str], rows: Iterable[Iterable[str]], *, live: str = "") -> str:
    """A table; cells are HTML already (escape them first). ``live``: its rows' data key."""
    key = f' data-live="{e(live)}"' if live else ""
    cells = "".join(f"<th>{e(h)}</th>" for h in head)
    return f"<table><thead><tr>{cells}</tr></thead><tbody{key}>{rows_html(rows)}</tbody></table>"


def rows_html(rows: Iterable[Iterable[str]]) -> str:
    """Table rows; cells are HTML already (the live stream sends the same)."""
    return "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)


def overview(status: dict[str, Any]) -> str:
    """Workers, queues, totals, and the live chart of throughput and queue depth."""
    d, totals = status["dispatcher"], status["totals"]
    figures = "".join(
        f'<div class=figure><span data-live="totals.{k}">{e(totals[k])}</span>{e(label)}</div>'
        for k, label in (
            ("pending", "pending"),
            ("delayed", "delayed"),
            ("running", "running"),
            ("dead_letters", "dead letters"),
        )
    )
    chart = (
        '<figure><svg id=chart viewBox="0 0 600 120" preserveAspectRatio=none>'
        '<polyline id=chart-depth points=""/><polyline id=chart-rate points=""/></svg>'
        "<figcaption><span class=depth>queue depth</span> · "
        '<span class=rate>completed/s</span> (<span data-live="rates.completed_per_s">'
        f"{e(status['rates']['completed_per_s'])}</span> now)</figcaption></figure>"
    )
    about = (
        f"<p>dispatcher <code>{e(d['address'])}</code>, pid {e(d['pid'])} on {e(d['host'])}, "
        f"up {e(render.age(d['uptime_s']))}; journal {e(d['journal'] or 'none')}</p>"
    )
    workers = table(render.WORKER_COLUMNS, worker_rows(status["workers"]), live="workers")
    queues = table(render.QUEUE_COLUMNS, queue_rows(status["queues"]), live="queues")
    return (
        f"{about}<div class=figures>{figures}</div>{chart}"
        f"<h2>Workers</h2>{workers}<h2>Queues</h2>{queues}"
    )


def worker_rows(workers: list[dict[str, Any]]) -> list[list[str]]:
    """The workers table's rows, escaped (the live stream sends the same)."""
    return [[e(cell) for cell in row] for row in render.worker_rows(workers)]


def queue_rows(queues: dict[str, Any]) -> list[list[str]]:
    """The queues table's rows, escaped."""
    return [[e(cell) for cell in row] for row in render.queue_rows(queues)]


def task_list(found: list[dict[str, Any]], query: dict[str, str]) -> str:
    """The search form and the tasks found (newest first)."""
    state = query.get("state", "")
    options = "".join(
        f"<option{' selected' if s == state else ''}>{e(s)}</option>"
        for s in ("", "succeeded", "failed", "cancelled", "dead")
    )
    form = (
        "<form class=search method=get action=/tasks>"
        f'<input name=id placeholder="task id" value="{e(query.get("id", ""))}">'
        f'<input name=name placeholder="task name" value="{e(query.get("name", ""))}">'
        f"<select name=state>{options}</select>"
        f'<input name=since placeholder="since: 15m, 1h" value="{e(query.get("since", ""))}">'
        "<button>Search</button></form>"
    )
    rows = [
        [e(render.when(t["finished_at"])), state_badge(t["state"]), e(t["name"]),
         f'<a href="/task/{e(t["id"])}">{e(t["id"])}</a>', e(len(t["attempts"]))]
        for t in found
    ]  # fmt: skip
    listing = table(["ended", "state", "task", "id", "attempts"], rows) if rows else "<p>No task."
    return form + listing


def state_badge(state: str) -> str:
    """A task's state, coloured by the stylesheet."""
    return f'<span class="state {e(state)}">{e(state)}</span>'


def task(rec: dict[str, Any], result: str) -> str:
    """Everything ``zq task show`` shows of one task."""
    parts = [
        f'<p>state <span class="state {e(rec["state"])}" data-live="task.state">'
        f"{e(rec['state'])}</span> · queue {e(rec['queue'])} · kicked "
        f"{e(render.when(rec['kicked_at']))} · finished "
        f'<span data-live="task.finished_at">{e(render.when(rec.get("finished_at")))}</span></p>',
    ]
    if rec["labels"]:
        parts.append(f"<p>labels <code>{e(rec['labels'])}</code></p>")
    if rec.get("reason"):
        parts.append(f"<p>reason: {e(rec['reason'])}</p>")
    for number, run in enumerate(rec.get("attempts", []), 1):
        took = run.get("run_time")
        parts.append(
            f"<section class=attempt><h2>Attempt {number}: {e(run['worker'] or 'no worker')}</h2>"
            f"<p>assigned {e(render.when(run.get('assigned_at')))}, ended "
            f"{e(render.when(run.get('finished_at')))}"
            + (f", ran {took * 1000:.1f} ms" if took is not None else "")
            + "</p>"
        )
        error = run.get("error")
        if error:
            parts.append(
                f"<p class=error>{e(error['type'])}: {e(error['message'])}</p>"
                f"<pre class=traceback>{e(error['traceback'])}</pre>"
            )
        if run.get("log"):
            parts.append("<h3>Log</h3><pre class=log>" + e("\n".join(run["log"])) + "</pre>")
        parts.append("</section>")
    if result:
        parts.append(f"<p>result <code data-live=task.result>{e(result)}</code></p>")
    return "".join(parts)


def dead_letters(letters: list[dict[str, Any]], *, may_act: bool) -> str:
    """Dead letters, each with Replay and Purge buttons."""
    if not letters:
        return "<p>No dead letter.</p>"
    rows = []
    for d in letters:
        hidden = f'<input type=hidden name=id value="{e(d["id"])}">'
        buttons = "".join(
            f"<form method=post action=/dead/{a}>{hidden}<button>{a.title()}</button></form>"
            for a in ("replay", "purge")
        ) if may_act else ""  # fmt: skip
        link = f'<a href="/task/{e(d["id"])}">{e(d["id"])}</a>'
        rows.append([link, e(d["name"]), e(d["queue"]), e(d["reason"]), buttons])
    return table(["id", "task", "queue", "reason", ""], rows)


def schedules(found: list[tuple[Any, bool]] | None) -> str:
    """The schedules of the SQLite schedule source, with pause, resume and delete."""
    if found is None:
        return "<p>No schedule source: start the dashboard with <code>--schedules-db</code>.</p>"
    rows = []
    for schedule, paused in found:
        sid = e(schedule.schedule_id)
        action = "resume" if paused else "pause"
        buttons = "".join(
            f'<form method=post action="/schedules/{sid}/{a}"><button>{a.title()}</button></form>'
            for a in (action, "delete")
        )
        rows.append([sid, "paused" if paused else "active", e(schedule.describe()),
                     e(schedule.task_name), buttons])  # fmt: skip
    return table(["id", "state", "when", "task", ""], rows) if rows else "<p>No schedule.</p>"
