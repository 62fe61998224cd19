"""The per-task execution pipeline (taskiq's receiver).

It finds the task, decodes and casts its arguments, resolves its dependencies, runs it under
its timeout with the middlewares' hooks, and encodes the result.

Async tasks run on the event loop; sync tasks run in a thread pool so they never block it.
Used by the Executor actor in worker processes and by ``InMemoryBroker``; a subclass can be
plugged in with ``zq worker --receiver``. A task whose broker has no middlewares, no
dependencies, nothing to cast and no timeout takes a short path with none of that machinery.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from zq.abc.middleware import call_hooks, pipe_hooks
from zq.acks import AcknowledgeType, parse_acknowledge_type
from zq.actors.ports import TaskPort, current_port
from zq.actors.slots import being_cancelled
from zq.context import Context
from zq.core import workflow
from zq.core.casting import ParamCaster
from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import describe
from zq.exceptions import NoResultError, UnknownTaskError
from zq.message import TaskiqMessage
from zq.plugins import taskiq_object
from zq.receiver.streaming import drive, streaming
from zq.receiver.task_logs import capturing
from zq.receiver.workflow_steps import run_built_in, with_input
from zq.result import TaskiqResult
from zq.state import TaskiqState
from zq.streams import is_generator

if TYPE_CHECKING:
    from zq.abc.broker import AsyncBroker

log = logging.getLogger("zq.receiver")


class _CancelSeen(logging.Filter):
    """Drops the dependency library's warning for a generator that let a cancel out.

    A cancelled task's generator dependencies have its ``CancelledError`` thrown in, so that
    they can roll back; letting it out (``try: yield ... finally:``) is what they should do.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


logging.getLogger("taskiq.dependencies.ctx").addFilter(_CancelSeen())


class SyncTaskPool(Protocol):
    """Where sync tasks run instead of threads (``zq.worker.process_pool.AppProcessPool``)."""

    async def run(self, task_name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run the registered sync task ``task_name``; cancelled, it stops the task."""
        ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the pool."""


def _dependency_graph(func: Any) -> Any:
    """The task's dependency graph, or None if it takes no dependency.

    A dependency is marked with ``taskiq_dependencies``' ``Depends``: a function can have one
    only if that package is imported already, so a process whose tasks take none never imports
    it (it imports FastAPI when FastAPI is installed: 0.3 s per process).
    """
    dependencies = sys.modules.get("taskiq_dependencies")
    if dependencies is None:
        return None
    graph = dependencies.DependencyGraph(func)
    return None if graph.is_empty() else graph


def dependency_aliases() -> tuple[list[type], list[type]]:
    """The classes a dependency may be annotated with for the context, and for the state.

    zq's always; taskiq's ``Context`` and ``TaskiqState`` too once taskiq is imported.
    """
    contexts: list[type] = [Context]
    states: list[type] = [TaskiqState]
    for found, module, name in (
        (contexts, "taskiq.context", "Context"),
        (states, "taskiq.state", "TaskiqState"),
    ):
        cls = taskiq_object(module, name)
        if isinstance(cls, type):
            found.append(cls)
    return contexts, states


class _Plan:
    """What running one task needs, worked out once per task name."""

    __slots__ = (
        "caster",
        "contexts",
        "func",
        "graph",
        "is_async",
        "plain",
        "states",
        "stream",
        "task_name",
    )

    def __init__(self, func: Any, is_async: bool, validate: bool, task_name: str) -> None:
        self.func = func
        self.task_name = task_name
        self.stream = is_generator(func)  # its items go to the caller (receiver.streaming)
        self.is_async = is_async and not self.stream
        caster = ParamCaster(func, task_name) if validate else None
        self.caster = caster if caster is not None and caster.needed else None
        self.graph = _dependency_graph(func)
        self.plain = self.caster is None and self.graph is None and not self.stream
        # What a dependency may be annotated with: zq's Context and state, and taskiq's once
        # imported (a plug-in written for taskiq, such as dishka's, asks for those).
        self.contexts, self.states = dependency_aliases()


class Receiver:
    """Runs tasks of ``broker``'s registry.

    ``max_threadpool_threads`` bounds sync tasks; ``validate_params=False`` turns argument
    casting off (``--no-parse``); ``propagate_exceptions=False`` keeps a task's exception out
    of its generator dependencies; ``ack_type`` is the default for tasks without the label.
    ``process_pool`` (see ``zq.worker.process_pool``) runs sync tasks in processes instead of
    threads. ``capture_logs``: what a task logs travels with its result (``task_logs``).
    """

    def __init__(
        self,
        broker: AsyncBroker,
        max_threadpool_threads: int | None = None,
        *,
        validate_params: bool = True,
        propagate_exceptions: bool = True,
        ack_type: AcknowledgeType | str = AcknowledgeType.WHEN_SAVED,
        process_pool: SyncTaskPool | None = None,
        capture_logs: bool = False,
    ) -> None:
        self.broker = broker
        self.capture_logs = capture_logs  # see zq.receiver.task_logs (``install`` the handler)
        self.max_threadpool_threads = max_threadpool_threads
        self.validate_params = validate_params
        self.propagate_exceptions = propagate_exceptions
        self.ack_type = parse_acknowledge_type(ack_type)
        self._plain_acks = self.ack_type is AcknowledgeType.WHEN_SAVED
        self._pool: ThreadPoolExecutor | None = None
        self.process_pool = process_pool
        self._plans: dict[str, _Plan] = {}
        self._abandoned: set[Future[Any]] = set()
        self._pool_size = 0
        self.max_abandoned = 32  # abandoned threads before ``on_stuck`` (see ``_abandon``)
        self.on_stuck: Callable[[], None] | None = None

    def startup(self) -> None:
        """Create the thread pool for sync tasks."""
        if self._pool is None:
            # ThreadPoolExecutor's own default size, made explicit for ``_abandon``
            self._pool_size = self.max_threadpool_threads or min(32, (os.cpu_count() or 1) + 4)
            self._pool = ThreadPoolExecutor(self._pool_size, thread_name_prefix="zq-sync")

    def shutdown(self) -> None:
        """Release the pools; a sync task still running is not waited for."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self.process_pool is not None:
            self.process_pool.shutdown(wait=False, cancel_futures=True)
            self.process_pool = None

    # --- the pipeline ---------------------------------------------------------------------

    def task_names(self) -> list[str]:
        """The names of the broker's registered tasks (``TaskRunner``).

        zq's built-in ones (``zq.core.workflow.BUILT_IN``) are not said: every executor runs
        them, and the dispatcher knows it.
        """
        return list(self.broker.get_all_tasks())

    async def run(self, task: TaskMsg, port: TaskPort | None = None) -> ResultMsg:
        """Run one task to a result; never raises for the task's own failure.

        ``port`` is how the task reaches its dispatcher (kicks, progress, acks).
        """
        token = current_port.set(port)
        lines: list[str] | None = [] if self.capture_logs else None  # (see task_logs)
        capture = capturing.set(lines) if lines is not None else None
        try:
            plan = self._plan(task.task_name)
            if plan is None and task.task_name in workflow.BUILT_IN:  # a pipeline's map/filter
                return await run_built_in(self.broker.serializer, task, port)
            hooks = self.broker.hooks
            labels = task.labels
            if (
                plan is not None
                and plan.plain
                and self._plain_acks
                and "timeout" not in labels
                and "ack_type" not in labels
                and not hooks["pre_execute"]
                and not hooks["post_execute"]
                and not hooks["on_error"]
                and not hooks["post_save"]
            ):
                wire = await self._run_plain(plan, task)
            else:
                wire = await self._run_full(plan, task, port)
        finally:
            current_port.reset(token)
            if capture is not None:
                capturing.reset(capture)
        if lines:
            wire.log = "\n".join(lines)
        return wire

    async def _run_plain(self, plan: _Plan, task: TaskMsg) -> ResultMsg:
        start = perf_counter()
        try:
            args, kwargs = self.broker.serializer.loadb(task.payload)
            if task.labels and workflow.IN in task.labels:  # a pipeline's step: its input
                args, kwargs = with_input(self.broker.serializer, task.labels, args, kwargs)
            value = await self._call(plan, args, kwargs)
            payload = self.broker.serializer.dumpb(value)
        except BaseException as exc:
            if being_cancelled(exc):
                raise
            # the traceback names the exception (its repr may itself raise: not in the message)
            log.error("task %s (id %s) failed", task.task_name, task.task_id, exc_info=exc)
            return ResultMsg(
                task.task_id, True, b"", perf_counter() - start, task.labels, describe(exc)
            )
        return ResultMsg(task.task_id, False, payload, perf_counter() - start, task.labels)

    async def _run_full(
        self, plan: _Plan | None, task: TaskMsg, port: TaskPort | None
    ) -> ResultMsg:
        broker = self.broker
        hooks = broker.hooks
        labels = dict(task.labels)
        try:
            args, kwargs = broker.serializer.loadb(task.payload)
            if workflow.IN in labels:  # a pipeline's step: its input, now in its arguments
                args, kwargs = with_input(broker.serializer, labels, args, kwargs)
                del labels[workflow.IN]  # (a retry kicked from them must not get it twice)
                labels.pop(workflow.IN_PARAM, None)
        except Exception as exc:
            log.warning("task %s (%s): undecodable arguments", task.task_id, task.task_name)
            return ResultMsg(task.task_id, True, b"", 0.0, task.labels, describe(exc))
        message = TaskiqMessage(
            task_id=task.task_id,
            task_name=task.task_name,
            labels=labels,
            args=list(args),
            kwargs=kwargs,
        )
        message = await pipe_hooks(hooks["pre_execute"], "pre_execute", message)
        try:
            ack_type = parse_acknowledge_type(message.labels.get("ack_type", self.ack_type))
        except ValueError as exc:
            log.warning("task %s: %s; using %s", task.task_id, exc, self.ack_type.value)
            ack_type = self.ack_type
        if ack_type is AcknowledgeType.WHEN_RECEIVED and port is not None:
            await port.ack(task.task_id)
        start = perf_counter()
        result = await self._execute(plan, message, port)
        if result.error is not None:
            await call_hooks(reversed(hooks["on_error"]), "on_error", message, result, result.error)
        if ack_type is AcknowledgeType.WHEN_EXECUTED and port is not None:
            await port.ack(task.task_id)
        await call_hooks(reversed(hooks["post_execute"]), "post_execute", message, result)
        wire = self._encode(task, result, perf_counter() - start)
        if not isinstance(result.error, NoResultError):
            await call_hooks(reversed(hooks["post_save"]), "post_save", message, result)
        return wire

    async def _execute(
        self, plan: _Plan | None, message: TaskiqMessage, port: TaskPort | None
    ) -> TaskiqResult[Any]:
        """Cast, resolve dependencies, call under the ``timeout`` label, tear dependencies down."""
        start = perf_counter()
        value: Any = None
        error: BaseException | None = None
        stop: BaseException | None = None  # a cancel from outside: dependencies see it too
        dep_ctx: Any = None
        streams = plan is not None and plan.stream
        try:
            if plan is None:
                raise UnknownTaskError(task_name=message.task_name)
            if plan.caster is not None:
                plan.caster.cast(message.args, message.kwargs)
            kwargs = message.kwargs
            if plan.graph is not None:
                context = {
                    **self.broker.custom_dependency_context,  # a fresh dict per task
                    **dict.fromkeys(plan.contexts, Context(message, self.broker, port)),
                    **dict.fromkeys(plan.states, self.broker.state),
                }
                dep_ctx = plan.graph.async_ctx(context, self.broker.dependency_overrides or None)
                kwargs = {**await dep_ctx.resolve_kwargs(), **message.kwargs}
            timeout = message.labels.get("timeout")
            with streaming(streams, port, message.task_id, message.labels):
                if timeout is None:
                    value = await self._call(plan, message.args, kwargs)
                else:
                    value = await self._call_with_timeout(plan, message, kwargs, float(timeout))
        except NoResultError as exc:
            error = exc
        except BaseException as exc:
            if being_cancelled(exc):
                stop = exc
            else:
                error = exc
                log.error(
                    "task %s (id %s) failed", message.task_name, message.task_id, exc_info=exc
                )
        if dep_ctx is not None:
            info: tuple[Any, Any, Any] = (None, None, None)
            if stop is not None or (error is not None and self.propagate_exceptions):
                thrown = stop or error
                info = (type(thrown), thrown, thrown.__traceback__ if thrown else None)
            try:
                await dep_ctx.close(*info)
            except Exception:
                log.exception("task %s: a dependency's teardown raised", message.task_id)
        if stop is not None:
            raise stop
        return TaskiqResult(
            is_err=error is not None,
            return_value=value,
            execution_time=perf_counter() - start,
            labels=message.labels,
            error=error,
        )

    async def _call_with_timeout(
        self, plan: _Plan, message: TaskiqMessage, kwargs: dict[str, Any], timeout: float
    ) -> Any:
        try:
            async with asyncio.timeout(timeout):
                return await self._call(plan, message.args, kwargs)
        except TimeoutError:
            raise TimeoutError(
                f"task {message.task_name} exceeded its timeout of {timeout:g}s"
            ) from None

    async def _call(self, plan: _Plan, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if plan.is_async:
            return await plan.func(*args, **kwargs)
        if plan.stream:  # a generator (sync ones in a thread, also with a process pool)
            return await drive(plan.func, args, kwargs, self.broker.serializer, self._in_thread)
        if self.process_pool is not None:
            return await self.process_pool.run(plan.task_name, args, kwargs)
        return await self._in_thread(functools.partial(plan.func, *args, **kwargs))

    async def _in_thread(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` in the thread pool, in a copy of this context."""
        if self._pool is None:
            self.startup()
        assert self._pool is not None
        running = self._pool.submit(contextvars.copy_context().run, func)
        try:
            return await asyncio.wrap_future(running)
        except BaseException:
            if not running.done():  # a timeout or a cancel: the thread cannot be stopped
                self._abandon(running)
            raise

    def _abandon(self, running: Future[Any]) -> None:
        """A sync task's thread runs on after its caller gave up on it (a timeout, a cancel).

        Once half the pool is held by such threads, new sync tasks get a fresh pool (the old
        one's threads end when their calls do); past ``max_abandoned`` in all, ``on_stuck`` asks
        for this process to be replaced (a planned replacement, like --max-tasks-per-child).
        """
        self._abandoned = {f for f in self._abandoned if not f.done()}
        self._abandoned.add(running)
        pool = self._pool
        assert pool is not None
        if len(self._abandoned) * 2 >= self._pool_size:
            log.warning(
                "%d sync task thread(s) still run past their timeout: new sync tasks use a "
                "fresh thread pool",
                len(self._abandoned),
            )
            pool.shutdown(wait=False)
            self._pool = None
            self.startup()
        if len(self._abandoned) >= self.max_abandoned and self.on_stuck is not None:
            self.on_stuck()

    @property
    def abandoned(self) -> int:
        """Threads still running a sync task whose caller gave up on it."""
        return sum(1 for f in self._abandoned if not f.done())

    def _encode(self, task: TaskMsg, result: TaskiqResult[Any], elapsed: float) -> ResultMsg:
        return result.to_message(task.task_id, self.broker.serializer, elapsed, task.labels)

    def _plan(self, task_name: str) -> _Plan | None:
        plan = self._plans.get(task_name)
        if plan is None:
            decorated = self.broker.find_task(task_name)
            if decorated is None:
                return None
            plan = _Plan(
                decorated.original_func, decorated.is_async, self.validate_params, task_name
            )
            self._plans[task_name] = plan
        return plan
