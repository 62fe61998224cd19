"""Tasks that misbehave in every way a task can, and a canary that must still run after them.

Each hostile task logs its own name before misbehaving (the execution log is the oracle); the
canary logs that it ran. ``tests/faults/test_hostile_tasks.py`` runs each kind on a worker with
one slot, then the canary on that same worker.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from tests.integration.app_tasks import _log
from zq import ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)


class Interrupt(BaseException):
    """A ``BaseException`` that is not an ``Exception``: ``except Exception`` misses it."""


class Unprintable(Exception):
    """Its text cannot be produced."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@broker.task(task_name="canary")
async def canary(token: str, log_path: str) -> str:
    _log(log_path, token)
    return token


@broker.task(task_name="canary_sync")
def canary_sync(token: str, log_path: str) -> str:
    """The canary, in the worker's thread pool."""
    _log(log_path, token)
    return token


async def _awaits_cancelled_helper() -> Any:
    helper = asyncio.get_running_loop().create_task(asyncio.Event().wait())
    helper.cancel()
    return await helper


def _raise(exc: BaseException) -> Any:
    raise exc


def _os_exit() -> Any:
    os._exit(9)


def _fork(log_path: str) -> str:
    pid = os.fork()
    if pid == 0:  # the copy carries on with the worker's loop, sockets and pipes
        return "child"
    _log(log_path, f"forked-{pid}")
    return "parent"


def _block_loop() -> Any:
    time.sleep(3600)  # blocks the event loop: no await can interrupt it


# One misbehaviour per kind; each either raises, ends the process, or returns.
_SYNC_KINDS: dict[str, Any] = {
    "base_exception": lambda _p: _raise(Interrupt("not an Exception")),
    "cancelled": lambda _p: _raise(asyncio.CancelledError()),
    "system_exit": lambda _p: _raise(SystemExit(3)),
    "keyboard_interrupt": lambda _p: _raise(KeyboardInterrupt()),
    "undescribable": lambda _p: _raise(ValueError(_nested(5000))),
    "unprintable": lambda _p: _raise(Unprintable()),
    "generator_exit": lambda _p: _raise(GeneratorExit()),
    "huge_result": lambda _p: b"x" * (17 * 1024 * 1024),  # over the default max_msg_size
    "os_exit": lambda _p: _os_exit(),
    "fork": _fork,
    "block_loop": lambda _p: _block_loop(),
}


@broker.task(task_name="hostile")
async def hostile(kind: str, log_path: str) -> Any:
    """Misbehave as ``kind`` says."""
    _log(log_path, kind)
    if kind == "awaits_cancelled_helper":
        return await _awaits_cancelled_helper()
    if kind == "async_timeout":
        await asyncio.Event().wait()
    if kind in _SYNC_KINDS:
        return _SYNC_KINDS[kind](log_path)
    raise AssertionError(f"unknown kind {kind}")


@broker.task(task_name="hostile_sync")
def hostile_sync(kind: str, log_path: str) -> Any:
    """A sync task misbehaving in a thread of the pool."""
    _log(log_path, kind)
    if kind == "sync_timeout":
        time.sleep(3600)  # past its timeout: the thread cannot be stopped
    if kind == "sync_system_exit":
        raise SystemExit(4)
    if kind == "sync_base_exception":
        raise Interrupt("from a thread")
    raise AssertionError(f"unknown kind {kind}")
