"""Sync tasks in a process pool (``zq worker --use-process-pool``), each process killable.

Pool processes are spawned (never forked from a process that holds ZeroMQ sockets and
threads), import the app once when they start, and run a sync task by its registered name:
only the name and the arguments cross the process boundary, so both must pickle, and so must
the return value. Async tasks stay on the worker's event loop.

Each call has a process of its own while it runs, so a call that is given up on (its task
cancelled, or past its ``timeout`` label) ends that process: the task really stops, which a
thread cannot. The next call spawns a replacement. (``concurrent.futures``' pool cannot do
this: it does not say which process runs a call, and one killed process breaks the pool.)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import traceback
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from zq.abc.broker import AsyncBroker

log = logging.getLogger("zq.worker")

_app: dict[str, AsyncBroker] = {}  # this pool process's broker, set when it starts


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


def _serve(conn: Connection, app: str, modules: list[str], app_dir: str | None) -> None:
    """A pool process: import the app, then run one call at a time until the pipe closes."""
    _load(app, modules, app_dir)
    while True:
        try:
            task_name, args, kwargs = conn.recv()
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, run_registered(task_name, args, kwargs))
        except BaseException as exc:  # the task's failure is its result
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # the value or the exception does not pickle
            text = "".join(traceback.format_exception(exc))
            conn.send((False, RuntimeError(f"cannot send the outcome back: {exc}\n{text}")))


class _Process:
    """One pool process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, app: str, modules: list[str], app_dir: str | None) -> None:
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_serve, args=(child, app, modules, app_dir)
        )  # not a daemon: a task may start processes of its own; EOF on the pipe ends it
        self.process.start()
        child.close()

    async def call(self, request: tuple[str, list[Any], dict[str, Any]]) -> Any:
        loop = asyncio.get_running_loop()
        self.conn.send(request)
        readable: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        try:
            ok, value = self.conn.recv()
        except EOFError:
            self.process.join(1)
            raise RuntimeError(
                f"the pool process (pid {self.process.pid}) running it died "
                f"(exit code {self.process.exitcode})"
            ) from None
        if not ok:
            raise value
        return value

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class AppProcessPool:
    """Up to ``processes`` spawned processes that each import the app; runs sync tasks by name.

    It is the receiver's ``SyncTaskPool``: the receiver hands it a task's name and arguments,
    never the function (which would have to pickle, and would import the worker's modules).
    """

    def __init__(
        self, app: str, modules: list[str], app_dir: str | None, processes: int | None
    ) -> None:
        self.size = processes or os.cpu_count() or 1
        self._spawn = (multiprocessing.get_context("spawn"), app, modules, app_dir)
        self._idle: list[_Process] = []
        self._busy: set[_Process] = set()  # running a call
        self._live = 0  # processes that exist: idle or running a call
        self._waiting: deque[asyncio.Future[None]] = deque()  # calls waiting for a process

    async def run(self, task_name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run the sync task ``task_name`` in a pool process; given up on, that process ends."""
        process = await self._acquire()
        self._busy.add(process)
        try:
            value = await process.call((task_name, args, kwargs))
        except asyncio.CancelledError:
            log.info("ending pool process %d: its task was cancelled", process.process.pid)
            self._discard(process)
            raise
        except BaseException:
            if process.process.is_alive():
                self._release(process)
            else:
                self._discard(process)
            raise
        self._release(process)
        return value

    async def _acquire(self) -> _Process:
        while not self._idle and self._live >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # it was woken as it was cancelled: wake the next one
                raise
        if self._idle:
            return self._idle.pop()
        self._live += 1
        try:
            return _Process(*self._spawn)
        except BaseException:
            self._live -= 1
            raise

    def _release(self, process: _Process) -> None:
        self._busy.discard(process)
        self._idle.append(process)
        self._wake()

    def _discard(self, process: _Process) -> None:
        self._busy.discard(process)
        process.kill()
        self._live -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the pool: idle processes exit; running ones are killed with ``cancel_futures``.

        (Otherwise the interpreter's exit would wait for a process still running a task.)
        """
        for process in self._idle:
            process.conn.close()  # the process sees the pipe close and exits
            if wait:
                process.process.join(5)
        self._idle = []
        if cancel_futures:
            for process in list(self._busy):
                self._discard(process)
