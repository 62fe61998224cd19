"""The worker-host supervisor: the main process of ``zq worker``.

It starts N worker children as fresh interpreters (``python -m zq.worker``: nothing is
inherited over fork, and it creates no ZeroMQ context itself), restarts a child that dies
(one-for-one, with backoff, at most ``max_restarts`` within ``restart_window_s``), and owns
the signals: the first SIGINT/SIGTERM asks every child to drain (SIGTERM); another one kills
them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import sys
import tempfile

import msgspec

from zq.backoff import backoff_s
from zq.restarts import RestartIntensity
from zq.worker import WorkerConfig

log = logging.getLogger("zq.supervisor")


class _Child:
    def __init__(self, index: int, process: asyncio.subprocess.Process) -> None:
        self.index = index
        self.process = process
        self.failures = 0  # consecutive unplanned deaths, for the backoff


class WorkerSupervisor:
    """Keeps ``workers`` children running ``config`` until told to stop."""

    def __init__(
        self,
        config: WorkerConfig,
        workers: int,
        *,
        max_restarts: int = 20,
        restart_window_s: float = 60.0,
    ) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.config = config
        self.workers = workers
        self.intensity = RestartIntensity(max_restarts, restart_window_s)
        self.children: dict[int, _Child] = {}
        self.signals = 0
        self.exit_code = 0
        self._stopping: asyncio.Event | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._env: dict[str, str] | None = None

    async def run(self) -> int:
        """Start the children and supervise them; returns the process exit code."""
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        log.info(
            "zq worker starting %d process(es) for %s (pid %d)",
            self.workers,
            self.config.app,
            os.getpid(),
        )
        # Children share one fresh metrics directory (PrometheusMiddleware's multiprocess mode),
        # set before they import anything, so counts from an earlier run never leak in.
        metrics_dir = None
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            metrics_dir = tempfile.mkdtemp(prefix=f"zq-metrics-{os.getpid()}-")
        self._env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir} if metrics_dir else None
        try:
            for index in range(self.workers):
                await self._spawn(index)
            await self._stopping.wait()
            while self._watchers:
                await asyncio.wait(set(self._watchers))
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("zq worker stopped")
        return self.exit_code

    async def _spawn(self, index: int, failures: int = 0) -> None:
        config = msgspec.structs.replace(self.config, index=index)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zq.worker", msgspec.json.encode(config).decode(), env=self._env
        )
        child = _Child(index, process)
        child.failures = failures
        self.children[index] = child
        log.debug("started worker %d (pid %d)", index, process.pid)
        watcher = asyncio.get_running_loop().create_task(self._watch(child))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, child: _Child) -> None:
        code = await child.process.wait()
        assert self._stopping is not None
        if self.children.get(child.index) is child:
            del self.children[child.index]
        if self._stopping.is_set():
            return
        loop = asyncio.get_running_loop()
        log.error("worker %d (pid %d) died with exit code %s", child.index, child.process.pid, code)
        if not self.intensity.allow(loop.time()):
            log.critical(
                "workers died %d times within %gs: giving up",
                self.intensity.max_restarts,
                self.intensity.window_s,
            )
            self.exit_code = 1
            self._begin_stop(signal.SIGTERM)
            return
        delay = backoff_s(child.failures, base_s=0.1, max_s=5.0, jitter=0.2, draw=random.random())
        await asyncio.sleep(delay)  # restart backoff, so a crash loop does not spin
        if not self._stopping.is_set():
            await self._spawn(child.index, child.failures + 1)

    def _on_signal(self, sig: int) -> None:
        self.signals += 1
        if self.signals == 1:
            log.info(
                "got %s: shutting down gracefully, waiting for %d worker(s) to finish "
                "their running tasks (signal again to kill them)",
                signal.Signals(sig).name,
                len(self.children),
            )
            self._begin_stop(signal.SIGTERM)
        else:
            log.warning(
                "got %s again: killing %d worker(s) now",
                signal.Signals(sig).name,
                len(self.children),
            )
            self._signal_children(signal.SIGKILL)

    def _begin_stop(self, sig: int) -> None:
        assert self._stopping is not None
        self._stopping.set()
        self._signal_children(sig)

    def _signal_children(self, sig: int) -> None:
        for child in list(self.children.values()):
            if child.process.returncode is None:
                try:
                    child.process.send_signal(sig)
                except ProcessLookupError:
                    continue
