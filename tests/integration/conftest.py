"""Real `zq worker` processes on random loopback ports, and helpers to read their execution log."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tests.execution_log import lines
from zq import ZeroMQBroker
from zq.kicker import AsyncKicker
from zq.task import AsyncTaskiqTask
from zq.transport.curve import generate

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.integration.app_tasks:broker"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


class Worker:
    """A `zq worker` subprocess (or another ``command``: `zq dispatcher`); stopped with SIGINT
    (then killed) at teardown.

    ``address=None`` leaves out ``--connect``; ``capture=True`` keeps its stderr (the log) in
    ``self.output`` once it has exited; ``group=True`` starts it in its own process group, so
    that ``signal_host`` reaches every process of the host at once.
    """

    def __init__(
        self,
        address: str | None,
        *args: str,
        app: str = APP,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
        capture: bool = False,
        group: bool = False,
        command: str = "worker",
    ) -> None:
        connect = ["--connect", address] if address else []
        cmd = [sys.executable, "-m", "zq", command, app, *connect, *args]
        environment = {**os.environ, **(env or {})}
        stderr = subprocess.PIPE if capture else None
        self.process = subprocess.Popen(
            cmd, cwd=cwd, env=environment, stderr=stderr, text=True, start_new_session=group
        )
        self.output = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def signal_host(self, sig: int) -> None:
        """Signal the whole worker host: the supervisor and its children (``group=True``)."""
        os.killpg(self.process.pid, sig)

    async def expect(self, text: str, timeout: float = 30.0) -> None:
        """Read the captured log until a line contains ``text`` (the worker got that far).

        Signals sent back to back can merge into one; tests wait for each to be handled.
        """
        stream = self.process.stderr
        assert stream is not None, "start the worker with capture=True"
        loop = asyncio.get_running_loop()

        async def read() -> None:
            while text not in self.output:
                line = await loop.run_in_executor(None, stream.readline)
                if not line:
                    raise AssertionError(f"the worker exited before logging {text!r}")
                self.output += line

        await asyncio.wait_for(read(), timeout)

    def wait(self, timeout: float) -> int:
        """Wait for the exit (collecting the captured log); raises TimeoutExpired."""
        if self.process.stderr is not None:
            _, err = self.process.communicate(timeout=timeout)
            self.output += err or ""
            return self.process.returncode
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT; if tasks keep it busy, SIGINT again (cancel them), then a third (kill)."""
        for grace in (timeout, 3.0, 3.0):
            if self.process.poll() is not None:
                break
            self.process.send_signal(signal.SIGINT)
            try:
                return self.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        if self.process.poll() is None:
            self.process.kill()
        return self.wait(timeout)


def key_pairs(path: Path, allowed: dict[str, str]) -> Path:
    """CURVE key pairs under ``path``: ``dispatcher`` and ``stranger`` (in no allow-list), and
    each of ``allowed`` (name: the allow-list folder its public key goes in)."""
    for name in ("dispatcher", "stranger"):
        generate(path, name)
    for name, folder in allowed.items():
        public, _ = generate(path, name)
        (path / folder).mkdir(exist_ok=True)
        public.rename(path / folder / public.name)
    return path


@pytest.fixture
async def workers() -> AsyncIterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(address: str | None, *args: str, **options: Any) -> Worker:
        worker = Worker(address, *args, **options)
        started.append(worker)
        return worker

    yield start
    # Stopped from threads: a worker's graceful stop waits for the dispatcher's Farewell, and
    # the dispatcher of the `producer` fixture runs on this loop.
    await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in started))


@pytest.fixture
async def producer() -> AsyncIterator[ZeroMQBroker]:
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    await broker.startup()
    yield broker
    await broker.shutdown()


async def kick(broker: ZeroMQBroker, name: str, *args: Any) -> AsyncTaskiqTask[Any]:
    """Kick a task of the test app by name (the producer does not import the app's broker)."""
    return await AsyncKicker(f"tests.integration.app_tasks:{name}", broker, {}).kiq(*args)


def read_log(path: Path) -> tuple[Counter[str], set[str]]:
    """(executions per token, worker pids) from an execution log."""
    counts: Counter[str] = Counter()
    pids: set[str] = set()
    for line in lines(path):
        token, pid, *_ = line.split()  # (a third field: when, in some logs)
        counts[token] += 1
        pids.add(pid)
    return counts, pids


async def wait_for_file(path: Path, timeout: float = 20.0) -> None:
    """Wait until ``path`` exists, woken by filesystem events (no polling)."""
    loop = asyncio.get_running_loop()
    appeared = asyncio.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if os.path.exists(path):
                loop.call_soon_threadsafe(appeared.set)

    observer = Observer()
    observer.schedule(Handler(), str(path.parent))
    observer.start()
    try:
        if not path.exists():
            await asyncio.wait_for(appeared.wait(), timeout)
    finally:
        observer.stop()
        observer.join()


async def wait_for_log(
    log: Path, done: Callable[[Counter[str]], bool], timeout: float = 60.0
) -> Counter[str]:
    """Until ``done(counts)`` holds for the execution log, woken by its changes (bounded)."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            loop.call_soon_threadsafe(changed.set)

    log.parent.mkdir(parents=True, exist_ok=True)
    observer = Observer()
    observer.schedule(Handler(), str(log.parent))
    observer.start()
    try:
        async with asyncio.timeout(timeout):
            while not done(counts := read_log(log)[0]):
                changed.clear()
                if read_log(log)[0] == counts:  # nothing new since the read: wait for a change
                    await changed.wait()
        return counts
    finally:
        observer.stop()
        observer.join()
