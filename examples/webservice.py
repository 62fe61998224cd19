"""An aiohttp service that embeds zq's dispatcher: no broker, the web process *is* the queue.

    pip install aiohttp
    python -m examples.webservice --port 8080 &             # binds the dispatcher too
    zq worker examples.webservice:broker --workers 2        # in another shell

    curl 'http://127.0.0.1:8080/add?a=2&b=3'                # kicks a task, answers its result
    curl -X POST 'http://127.0.0.1:8080/reports?rows=5'     # starts a long task -> {"task_id"}
    curl 'http://127.0.0.1:8080/reports/<task_id>/progress' # long-polls its progress
    curl 'http://127.0.0.1:8080/reports/<task_id>'          # its result, once done

The dispatcher starts and stops with the app (``on_startup`` / ``on_cleanup``), so the
service's own event loop carries both HTTP and dispatch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from zq import AsyncTaskiqTask, ProgressTracker, TaskiqDepends, TaskState, ZeroMQBroker

broker = ZeroMQBroker(os.environ.get("ZQ_ADDRESS", "tcp://127.0.0.1:5555"))


@broker.task
async def add(a: int, b: int) -> int:
    return a + b


@broker.task
async def build_report(
    rows: int, gate: str = "", progress: ProgressTracker[int] = TaskiqDepends()
) -> dict[str, Any]:
    """Builds ``rows`` rows, reporting progress after each (``gate``: a FIFO that the test uses
    to hold the task open after its first row, so that it can watch the progress).
    """
    for row in range(1, rows + 1):
        await progress.set_progress(TaskState.STARTED, row)
        if gate and row == 1:
            await asyncio.to_thread(Path(gate).read_text)
    return {"rows": rows, "status": "done"}


async def handle_add(request: web.Request) -> web.Response:
    task = await add.kiq(request.query["a"], request.query["b"])  # cast to int by the worker
    result = await task.wait_result(timeout=10)
    return web.json_response({"result": result.return_value})


async def start_report(request: web.Request) -> web.Response:
    task = await build_report.kiq(
        int(request.query.get("rows", "10")), request.query.get("gate", "")
    )
    return web.json_response({"task_id": task.task_id}, status=202)


async def report_progress(request: web.Request) -> web.Response:
    task: AsyncTaskiqTask[Any] = AsyncTaskiqTask(
        request.match_info["task_id"], broker.result_backend
    )
    progress = await task.wait_progress(timeout=float(request.query.get("wait", "10")))
    return web.json_response({"state": str(progress.state.value), "row": progress.meta})


async def report_result(request: web.Request) -> web.Response:
    task: AsyncTaskiqTask[Any] = AsyncTaskiqTask(
        request.match_info["task_id"], broker.result_backend
    )
    result = await task.wait_result(timeout=float(request.query.get("wait", "10")))
    return web.json_response(result.return_value)


def make_app() -> web.Application:
    """The aiohttp application, with the broker started and stopped alongside it."""
    app = web.Application()
    app.router.add_get("/add", handle_add)
    app.router.add_post("/reports", start_report)
    app.router.add_get("/reports/{task_id}/progress", report_progress)
    app.router.add_get("/reports/{task_id}", report_result)

    async def start_broker(_: web.Application) -> None:
        await broker.startup()

    async def stop_broker(_: web.Application) -> None:
        await broker.shutdown()

    app.on_startup.append(start_broker)
    app.on_cleanup.append(stop_broker)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    options = parser.parse_args()
    web.run_app(make_app(), host=options.host, port=options.port)
