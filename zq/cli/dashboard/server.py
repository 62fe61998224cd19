"""``zq dashboard``'s web server (aiohttp): pages, the live stream, the actions.

It talks to the dispatcher as an observer (``zq.actors.observer``): one connection for the
pages' questions, and one per open live stream, on which the dispatcher pushes its status
(``subscribe``): the browser never polls. The actions (replay, purge) are write queries, which
with CURVE need a key allowed as a producer or worker.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from zq.abc.serializer import TaskiqSerializer
from zq.actors.observer import Observer, ObserverError
from zq.cli import render
from zq.cli.dashboard import pages
from zq.exceptions import AddressInUseError, SecurityConfigError
from zq.transport.sockets import SocketConfig

STATIC = Path(__file__).parent / "static"
COOKIE = "zq_dashboard"
PUSH_EVERY_S = 1.0  # how often the dispatcher pushes the status to a live page
UNREACHABLE = (AddressInUseError, SecurityConfigError, TimeoutError, ObserverError)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Dashboard:
    """The dashboard of the dispatcher at ``address``."""

    def __init__(
        self,
        address: str,
        config: SocketConfig | None = None,
        *,
        token: str | None = None,
        schedules_db: str | None = None,
        serializer: TaskiqSerializer | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.address = address
        self.config = config or SocketConfig()
        self.token = token
        self.schedules_db = schedules_db
        self.serializer = serializer
        self.timeout_s = timeout_s
        self._observer: Observer | None = None
        self._lock = asyncio.Lock()  # one question at a time on the shared connection

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._auth, self._unreachable])
        app.add_routes(
            [
                web.get("/", self.overview),
                web.get("/events", self.events),
                web.get("/tasks", self.tasks),
                web.get("/task/{id}", self.task),
                web.get("/task/{id}/events", self.task_events),
                web.get("/dead", self.dead),
                web.post("/dead/{action:replay|purge}", self.act_on_dead),
                web.get("/schedules", self.schedules),
                web.post("/schedules/{id}/{action:pause|resume|delete}", self.act_on_schedule),
                web.static("/static", STATIC),
            ]
        )
        app.on_cleanup.append(self._close)
        return app

    # --- the dispatcher -------------------------------------------------------------------

    async def ask(self, what: str, **args: Any) -> Any:
        """The dispatcher's answer, on the shared connection (opened again if it broke)."""
        async with self._lock:
            if self._observer is None:
                observer = Observer(self.address, self.config, self.timeout_s)
                await observer.connect()
                self._observer = observer
            try:
                return await self._observer.ask(what, **args)
            except (TimeoutError, ObserverError):
                await self._observer.close()
                self._observer = None
                raise

    async def _close(self, _app: web.Application) -> None:
        if self._observer is not None:
            await self._observer.close()

    # --- pages ----------------------------------------------------------------------------

    async def overview(self, _request: web.Request) -> web.Response:
        status = await self.ask("status")
        return html(pages.page("Overview", pages.overview(status), live="/events"))

    async def tasks(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if query.get("id"):
            raise web.HTTPFound(f"/task/{query['id'].strip()}")
        since = query.get("since") or None
        found = await self.ask(
            "tasks",
            state=query.get("state") or None,
            name=query.get("name") or None,
            since=None if since is None else time.time() - age(since),
            limit=200,
        )
        return html(pages.page("Tasks", pages.task_list(found, query)))

    async def task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["id"]
        rec = await self.ask("task", id=task_id)
        if rec is None:
            body = f"<p>No task {pages.e(task_id)} here (never kicked, or forgotten).</p>"
            return html(pages.page("Task", body), status=404)
        result = "" if rec["result"] is None else render.value(rec["result"], self.serializer)
        live = "" if rec["state"] in FINAL else f"/task/{task_id}/events"
        return html(pages.page(f"Task {rec['name']}", pages.task(rec, result), live=live))

    async def dead(self, _request: web.Request) -> web.Response:
        letters = await self.ask("dead_letters")
        return html(pages.page("Dead letters", pages.dead_letters(letters, may_act=True)))

    async def act_on_dead(self, request: web.Request) -> web.Response:
        ids = [str(i) for i in (await request.post()).getall("id", [])]
        action = request.match_info["action"]
        await self.ask(action, ids=ids)
        if action == "replay" and len(ids) == 1:
            raise web.HTTPSeeOther(f"/task/{ids[0]}")
        raise web.HTTPSeeOther("/dead")

    async def schedules(self, _request: web.Request) -> web.Response:
        found = None
        if self.schedules_db is not None:
            found = self._source().list()
        return html(pages.page("Schedules", pages.schedules(found)))

    async def act_on_schedule(self, request: web.Request) -> web.Response:
        if self.schedules_db is None:
            raise web.HTTPNotFound(text="no schedule source (--schedules-db)")
        action = request.match_info["action"]
        method = "delete_schedule" if action == "delete" else action
        try:
            await getattr(self._source(), method)(request.match_info["id"])
        except KeyError as exc:
            raise web.HTTPNotFound(text=str(exc.args[0])) from exc
        raise web.HTTPSeeOther("/schedules")

    def _source(self) -> Any:
        from zq.scheduling.sqlite_source import SQLiteScheduleSource

        assert self.schedules_db is not None
        return SQLiteScheduleSource(self.schedules_db)

    # --- live streams (server-sent events) -----------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The overview's figures, rows and chart point, each time the dispatcher pushes."""

        async def update(status: dict[str, Any]) -> dict[str, Any] | None:
            totals, rates = status["totals"], status["rates"]
            text = {f"totals.{k}": v for k, v in totals.items()}
            text["rates.completed_per_s"] = rates["completed_per_s"]
            rows = {
                "workers": pages.worker_rows(status["workers"]),
                "queues": pages.queue_rows(status["queues"]),
            }
            return {
                "text": text,
                "html": {k: pages.rows_html(v) for k, v in rows.items()},
                "chart": {"depth": totals["held"], "rate": rates["completed_per_s"]},
            }

        return await self._stream(request, update)

    async def task_events(self, request: web.Request) -> web.StreamResponse:
        """A task page's state, on each push while the task has not finished."""
        task_id = request.match_info["id"]
        seen: list[str] = []

        async def update(_status: dict[str, Any]) -> dict[str, Any] | None:
            rec = await self.ask("task", id=task_id)
            state = "unknown" if rec is None else rec["state"]
            if seen and seen[-1] == state:
                return None
            seen.append(state)
            return {"text": {"task.state": state}, "reload": len(seen) > 1}

        return await self._stream(request, update)

    async def _stream(
        self,
        request: web.Request,
        update: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]],
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.headers["Cache-Control"] = "no-cache"
        await response.prepare(request)
        async with Observer(self.address, self.config, self.timeout_s) as observer:
            async for status in observer.updates(PUSH_EVERY_S):
                data = await update(status)
                if data is not None:
                    await response.write(f"data: {json.dumps(data)}\n\n".encode())
        return response

    # --- middlewares ----------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """With a token: ``?token=`` once (it becomes a cookie), or that cookie."""
        if self.token is None:
            return await handler(request)
        given = request.query.get("token")
        if given is not None and hmac.compare_digest(given, self.token):
            response = web.HTTPFound(request.path)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
            raise response
        if hmac.compare_digest(request.cookies.get(COOKIE, ""), self.token):
            return await handler(request)
        raise web.HTTPUnauthorized(text="open the dashboard's address with ?token=TOKEN first")

    @web.middleware
    async def _unreachable(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """No dispatcher answers: a page that says so (and where), not a stack trace."""
        try:
            return await handler(request)
        except UNREACHABLE as exc:
            body = (
                f"<p class=error>{pages.e(exc)}</p><p>The dispatcher: {pages.e(self.address)}</p>"
            )
            return html(pages.page("No dispatcher", body), status=503)


FINAL = ("succeeded", "failed", "cancelled", "dead")


def html(text: str, status: int = 200) -> web.Response:
    """An HTML response."""
    return web.Response(text=text, status=status, content_type="text/html")


def age(text: str) -> float:
    """Seconds in ``90s``, ``15m``, ``1h``, ``2d``; a bad one is a 400."""
    from zq.cli.status import parse_age

    try:
        return parse_age(text)
    except Exception as exc:
        raise web.HTTPBadRequest(text=f"since: {exc}") from exc
