"""The worker-host supervisor: the main process of ``zq worker``.

It starts N worker children as fresh interpreters (``python -m zq.worker``: nothing is
inherited over fork, and it creates no ZeroMQ context itself) and hears from each over a pipe
(``zq.worker.config.Report`` lines). It restarts a child that dies (one-for-one, with backoff;
at most ``max_restarts`` within ``restart_window_s`` and ``max_fails`` in all), and it replaces
children on purpose: a child that took its ``--max-tasks-per-child`` tasks, and every child in
turn on SIGHUP or a source change (``--reload``). A replacement is always started, and ready,
before the child it replaces is told to drain, so capacity never drops to zero.

Signals (decided by ``zq.core.worker_policy.signal_action``): the first SIGINT/SIGTERM drains every
child (SIGTERM), the next ones make them cancel their running tasks and hand them back (a second
SIGTERM), and the ``hardkill_count``-th kills them (SIGKILL) and exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
from typing import Any

import msgspec

from zq.core.backoff import backoff_s
from zq.core.restarts import RestartIntensity
from zq.core.worker_policy import ReloadBurst, SignalAction, signal_action
from zq.worker.child_state import ChildState
from zq.worker.config import EXIT_CONFIG, Report, WorkerConfig
from zq.worker.reload import ChangeFilter, watch

log = logging.getLogger("zq.supervisor")

READY_TIMEOUT_S = 60.0  # a replacement that is not ready by then is given up on


class _Child:
    def __init__(
        self,
        index: int,
        process: asyncio.subprocess.Process,
        failures: int,
        state: ChildState,
    ) -> None:
        self.index = index
        self.process = process
        self.state = state  # its loop's heartbeat and busy flag
        self.blocked = False  # killed because its loop stopped running
        self.failures = failures  # consecutive unplanned deaths in this slot, for the backoff
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.retiring = False  # replaced on purpose: its exit is planned
        self.in_flight: int | None = None  # reported when it starts draining
        self.tasks_run = 0
        self.reader: asyncio.Task[None] | None = None


class WorkerSupervisor:
    """Keeps ``workers`` children running ``config`` until told to stop."""

    def __init__(
        self,
        config: WorkerConfig,
        workers: int,
        *,
        hardkill_count: int = 3,
        max_fails: int | None = None,
        max_restarts: int = 20,
        restart_window_s: float = 60.0,
        loop_block_timeout_s: float = 10.0,
        reload_dirs: list[str] | None = None,
        use_gitignore: bool = True,
        reload_quiet_s: float = 0.3,
    ) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        signal_action(1, hardkill_count)  # validates it
        self.config = config
        self.workers = workers
        self.hardkill_count = hardkill_count
        self.max_fails = max_fails
        self.intensity = RestartIntensity(max_restarts, restart_window_s)
        self.loop_block_timeout_s = loop_block_timeout_s
        self.task_deaths = 0  # children that died running a task: not counted to give up
        self._state_dir = ""
        self._spawned = 0
        self.reload_dirs = reload_dirs
        self.use_gitignore = use_gitignore
        self.current: dict[int, _Child] = {}  # the child serving each slot
        self.live: set[_Child] = set()  # every child process not yet reaped
        self.signals = 0
        self.fails = 0
        self.exit_code = 0
        self.tasks_run = 0  # reported by children that stopped
        self.stopping = False
        self._done: asyncio.Event | None = None
        self._announced = False
        self._in_flight_logged = False
        self._burst = ReloadBurst(reload_quiet_s)
        self._rolling: asyncio.Task[None] | None = None
        self._roll_again = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._env: dict[str, str] | None = None

    # --- running --------------------------------------------------------------------------

    async def run(self) -> int:
        """Start the children and supervise them; returns the process exit code."""
        loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self.request_rolling, "got SIGHUP")
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
        observer = None
        self._state_dir = tempfile.mkdtemp(prefix=f"zq-worker-{os.getpid()}-")
        try:
            if self.loop_block_timeout_s > 0:
                loop.call_later(0.5, self._check_loops)
            for index in range(self.workers):
                await self._spawn(index)
            if self.reload_dirs:
                accept = ChangeFilter(self.reload_dirs, use_gitignore=self.use_gitignore)

                def changed(path: str) -> None:  # in watchdog's thread
                    loop.call_soon_threadsafe(self._changed, path)

                observer = watch(accept, changed)
                log.info("reloading on changes under %s", ", ".join(self.reload_dirs))
            await self._done.wait()
        finally:
            if observer is not None:
                observer.stop()
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
            shutil.rmtree(self._state_dir, ignore_errors=True)
        if self.live:  # hard kill: do not wait for anything
            log.warning("zq worker killed; at least %d task(s) were run", self.tasks_run)
        else:
            log.info("zq worker stopped: %d task(s) run", self.tasks_run)
        return self.exit_code

    def _background(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _spawn(self, index: int, failures: int = 0) -> _Child:
        read_fd, write_fd = os.pipe()
        self._spawned += 1
        state = ChildState.create(os.path.join(self._state_dir, f"{index}-{self._spawned}"))
        config = msgspec.structs.replace(
            self.config, index=index, control_fd=write_fd, state_path=state.path
        )
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "zq.worker",
                msgspec.json.encode(config).decode(),
                env=self._env,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        child = _Child(index, process, failures, state)
        self.current[index] = child
        self.live.add(child)
        child.reader = self._background(self._read(child, read_fd))
        self._background(self._watch(child))
        log.debug("started worker %d (pid %d)", index, process.pid)
        return child

    async def _read(self, child: _Child, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
        )
        try:
            async for line in reader:
                try:
                    report = msgspec.json.decode(line, type=Report)
                except msgspec.DecodeError:
                    log.warning("worker %d sent an unreadable report: %r", child.index, line)
                    continue
                self._on_report(child, report)
        finally:
            transport.close()

    def _announce(self, report: Report) -> None:
        """Say once what the host serves; no task at all is a WARNING (kicks would wait)."""
        queues, addresses = ", ".join(report.queues) or "all", ", ".join(report.addresses)
        if report.tasks:
            tasks = ", ".join(report.tasks)
            log.info("registered %d task(s): %s; queues: %s; dispatcher(s): %s",
                     len(report.tasks), tasks, queues, addresses)  # fmt: skip
            return
        log.warning(
            "registered 0 tasks: %s defines none once imported (with modules: %s); tasks "
            "kicked to it will wait. Name the modules that define them after the app, or "
            "use --fs-discover; dispatcher(s): %s",
            self.config.app,
            ", ".join(self.config.modules) or "none",
            addresses,
        )

    def _on_report(self, child: _Child, report: Report) -> None:
        if report.event == "ready":
            child.ready.set()
            if not self._announced:
                self._announced = True
                self._announce(report)
        elif report.event == "spent":
            log.info("worker %d took its %s task(s): replacing it", child.index, report.count or "")
            if not self.stopping:
                self._background(self._replace(child))
        elif report.event == "draining":
            child.in_flight = report.count
            self._log_in_flight(force=False)
        elif report.event == "stopped":
            child.tasks_run = report.count
        elif report.event == "dispatchers":  # --discover: they changed since it started
            now = ", ".join(report.addresses)
            log.info("worker %d: dispatchers on the LAN now %s: replacing it", child.index, now)
            self._background(self._replace(child))

    async def _watch(self, child: _Child) -> None:
        code = await child.process.wait()
        if child.reader is not None:  # read its last reports (its task count) first
            await asyncio.wait({child.reader}, timeout=1.0)
        _, busy = child.state.read()
        child.state.close(remove=True)
        child.exited.set()
        self.live.discard(child)
        self.tasks_run += child.tasks_run
        assert self._done is not None
        if self.stopping:
            if not self.live:
                self._done.set()
            return
        if child.retiring:
            log.info(
                "worker %d (pid %d) replaced; it ran %d task(s)",
                child.index,
                child.process.pid,
                child.tasks_run,
            )
            return
        if busy:
            await self._task_death(child, code)
        else:
            await self._unplanned_exit(child, code)

    async def _task_death(self, child: _Child, code: int) -> None:
        """A child died running a task: most likely the task killed it (or blocked its loop).

        The dispatcher counts a delivery of each task it held and quarantines repeat
        suspects until they reach their delivery limit alone, so these deaths are bounded by
        the tasks, not by the host: they do not count towards the restart intensity (only
        towards an explicit ``--max-fails``), and the child is replaced at once, so the good
        tasks beside a poison one go on.
        """
        self.task_deaths += 1
        self.fails += 1  # an explicit --max-fails counts every death; the intensity does not
        how = "was killed (its loop was blocked)" if child.blocked else f"died (exit code {code})"
        log.error(
            "worker %d (pid %d) %s while running a task: replacing it; the dispatcher hands "
            "its tasks to other workers and dead-letters a task that keeps killing them",
            child.index,
            child.process.pid,
            how,
        )
        if self.max_fails is not None and self.fails >= self.max_fails:
            self._give_up(1, f"{self.fails} worker process(es) died (--max-fails {self.max_fails})")
            return
        delay = backoff_s(0, base_s=0.05, max_s=0.5, jitter=0.2, draw=random.random())
        await asyncio.sleep(delay)  # a short pause, so that a burst does not spin
        if not self.stopping and self.current.get(child.index) is child:
            await self._spawn(child.index, child.failures)

    def _check_loops(self) -> None:
        """Replace children whose event loop stopped running (see ``zq.worker.child_state``)."""
        loop = asyncio.get_running_loop()
        if self._done is None or self._done.is_set():
            return
        loop.call_later(0.5, self._check_loops)
        for child in list(self.live):
            if child.blocked or child.process.returncode is not None:
                continue
            silent = child.state.silent_for()
            if silent > self.loop_block_timeout_s:
                child.blocked = True
                log.error(
                    "worker %d (pid %d): its event loop has not run for %.1fs (a task blocks "
                    "it: a busy loop or a blocking call in an async task; make it async or a "
                    "sync task): killing it (--loop-block-timeout %g)",
                    child.index,
                    child.process.pid,
                    silent,
                    self.loop_block_timeout_s,
                )
                self._signal(child, signal.SIGKILL)

    async def _unplanned_exit(self, child: _Child, code: int) -> None:
        self.fails += 1
        log.error("worker %d (pid %d) died with exit code %s", child.index, child.process.pid, code)
        if code == EXIT_CONFIG and not self._announced:  # the app cannot load: retrying won't help
            self._give_up(EXIT_CONFIG, "the workers cannot start (see above)")
        elif self.max_fails is not None and self.fails >= self.max_fails:
            why = f"{self.fails} worker process(es) died (--max-fails {self.max_fails})"
            self._give_up(1, why)
        elif not self.intensity.allow(asyncio.get_running_loop().time()):
            limit = self.intensity
            why = f"workers died {limit.max_restarts} times within {limit.window_s:g}s"
            self._give_up(1, why)
        if self.stopping:
            return
        delay = backoff_s(child.failures, base_s=0.1, max_s=5.0, jitter=0.2, draw=random.random())
        await asyncio.sleep(delay)  # restart backoff, so a crash loop does not spin
        if not self.stopping and self.current.get(child.index) is child:
            await self._spawn(child.index, child.failures + 1)

    # --- planned replacements -------------------------------------------------------------

    def _give_up(self, code: int, why: str) -> None:
        log.critical("%s: giving up", why)
        self.exit_code = code
        self._stop(signal.SIGTERM)

    async def _replace(self, old: _Child, *, wait_exit: bool = False) -> bool:
        """Start old's replacement, wait until it is ready, then drain old. False on failure."""
        if old.retiring or self.stopping:
            return True
        old.retiring = True
        new = await self._spawn(old.index)
        ready = self._background(new.ready.wait())
        died = self._background(new.exited.wait())
        await asyncio.wait({ready, died}, timeout=READY_TIMEOUT_S, return_when="FIRST_COMPLETED")
        ready.cancel()
        died.cancel()
        if not new.ready.is_set():
            log.error("worker %d's replacement did not start; keeping the old one", old.index)
            old.retiring = False
            if old in self.live:
                self.current[old.index] = old
            if new.process.returncode is None:
                new.retiring = True
                new.process.terminate()
            return False
        self._signal(old, signal.SIGTERM)
        if wait_exit:
            await old.exited.wait()
        return True

    def request_rolling(self, why: str = "reload requested") -> None:
        """Replace every child in turn (SIGHUP, ``--reload``).

        One at a time, each new one ready before its old one drains. A request during a rolling
        restart runs it once more afterwards.
        """
        if self.stopping:
            return
        if self._rolling is not None and not self._rolling.done():
            self._roll_again = True
            return
        self._rolling = self._background(self._roll(why))

    async def _roll(self, why: str) -> None:
        while True:
            self._roll_again = False
            log.info("%s: replacing %d worker process(es) one by one", why, len(self.current))
            for index in sorted(self.current):
                child = self.current.get(index)
                if self.stopping:
                    return
                if child is None or child.retiring:
                    continue
                if not await self._replace(child, wait_exit=True):
                    log.error("rolling restart stopped: the new code does not start")
                    return
            log.info("rolling restart done")
            if not self._roll_again:
                return
            why = "more changes during the restart"

    def _changed(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        log.debug("changed: %s", path)
        loop.call_at(self._burst.change(loop.time()), self._check_burst)

    def _check_burst(self) -> None:
        if self._burst.due(asyncio.get_running_loop().time()):
            self.request_rolling("source changed")

    # --- signals --------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        self.signals += 1
        name = signal.Signals(sig).name
        action = signal_action(self.signals, self.hardkill_count)
        if action is SignalAction.GRACEFUL:
            log.info(
                "got %s: shutting down gracefully: no new tasks, prefetched tasks handed back, "
                "waiting for in-flight tasks to finish (%s)",
                name,
                self._next_steps(),
            )
            self._stop(signal.SIGTERM)
            asyncio.get_running_loop().call_later(1.0, self._log_in_flight, True)
        elif action is SignalAction.CANCEL:
            log.warning(
                "got %s again: cancelling running tasks and handing them back to the "
                "dispatcher (%d worker process(es); signal %d more time(s) to kill)",
                name,
                len(self.live),
                self.hardkill_count - self.signals,
            )
            self._stop(signal.SIGUSR1)  # a child cancels on SIGUSR1 (SIGTERM only drains)
        else:
            log.warning(
                "got %s (%d of %d): killing %d worker process(es) now",
                name,
                self.signals,
                self.hardkill_count,
                len(self.live),
            )
            self.stopping = True
            self.exit_code = 1
            for child in list(self.live):
                self._signal(child, signal.SIGKILL)
            assert self._done is not None
            self._done.set()

    def _next_steps(self) -> str:
        if self.hardkill_count == 2:
            return "signal again to kill the workers"
        return f"signal again to cancel running tasks, {self.hardkill_count} times in all to kill"

    def _log_in_flight(self, force: bool) -> None:
        if self._in_flight_logged or not self.stopping:
            return
        reported = [c.in_flight for c in self.live if c.in_flight is not None]
        if not force and len(reported) < len(self.live):
            return
        self._in_flight_logged = True
        log.info(
            "waiting for %d in-flight task(s) in %d worker process(es)",
            sum(reported),
            len(self.live),
        )

    def _stop(self, sig: int) -> None:
        self.stopping = True
        for child in list(self.live):
            self._signal(child, sig)
        if not self.live and self._done is not None:
            self._done.set()

    @staticmethod
    def _signal(child: _Child, sig: int) -> None:
        if child.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(sig)
