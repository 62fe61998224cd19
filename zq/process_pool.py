"""Sync tasks in a process pool (``zq worker --use-process-pool``).

Pool processes are spawned (never forked from a process that holds ZeroMQ sockets and
threads), import the app once in their initializer, and run a sync task by its registered
name: only the name and the arguments cross the process boundary, so both must pickle, and so
must the return value. Async tasks stay on the worker's event loop.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from zq.broker import AsyncBroker

_app: dict[str, AsyncBroker] = {}  # this pool process's broker, set by its initializer


def _load(app: str, modules: list[str], app_dir: str | None) -> None:
    from zq.loader import import_modules, load_broker

    broker = load_broker(app, app_dir)
    broker.is_worker_process = True
    import_modules(modules, app_dir)
    _app["broker"] = broker


def run_registered(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run the sync task ``task_name`` of the app this pool process imported."""
    broker = _app.get("broker")
    if broker is None:
        raise RuntimeError("the process pool was not initialised with an app")
    task = broker.find_task(task_name)
    if task is None:
        raise LookupError(f"task {task_name!r} is not registered in the pool process")
    return task.original_func(*args, **kwargs)


def start_pool(
    app: str, modules: list[str], app_dir: str | None, processes: int | None
) -> ProcessPoolExecutor:
    """A spawned pool whose processes each import ``app`` and ``modules``."""
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_load,
        initargs=(app, modules, app_dir),
    )
