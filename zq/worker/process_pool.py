"""Sync tasks in a process pool (``zq worker --use-process-pool``).

Pool processes are spawned (never forked from a process that holds ZeroMQ sockets and
threads), import the app once in their initializer, and run a sync task by its registered
name: only the name and the arguments cross the process boundary, so both must pickle, and so
must the return value. Async tasks stay on the worker's event loop.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from zq.abc.broker import AsyncBroker

_app: dict[str, AsyncBroker] = {}  # this pool process's broker, set by its initializer


def _load(app: str, modules: list[str], app_dir: str | None) -> None:
    from zq.worker.loader import import_modules, load_broker

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


class AppProcessPool:
    """A spawned pool whose processes each import the app; runs sync tasks by name.

    It is the receiver's ``SyncTaskPool``: the receiver hands it a task's name and arguments,
    never the function (which would have to pickle, and would import the worker's modules).
    """

    def __init__(
        self, app: str, modules: list[str], app_dir: str | None, processes: int | None
    ) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(app, modules, app_dir),
        )

    def submit(self, task_name: str, args: list[Any], kwargs: dict[str, Any]) -> Future[Any]:
        """Run the sync task ``task_name`` in a pool process."""
        return self._pool.submit(run_registered, task_name, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the pool processes."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
