"""``AsyncBroker``: the task registry, middlewares, events, state and dependencies of an app.

Subclasses implement ``kick``. Everything here is taskiq's API; the differences are listed in
docs/coming-from-taskiq.md.

A broker of your own, written as taskiq documents it, implements ``kick(BrokerMessage)`` and
``listen()``: zq turns its kicks into ``BrokerMessage``s (the formatter's) and ``zq worker`` (or
``zq.api.run_receiver_task``) runs what ``listen()`` yields (``zq.worker.listener``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import typing
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, overload

from zq.abc.formatter import TaskiqFormatter
from zq.abc.middleware import HOOKS, TaskiqMiddleware, call_hooks, maybe_await
from zq.abc.result_backend import AsyncResultBackend
from zq.acks import AckableMessage
from zq.core.messages import CancelOutcome, TaskMsg
from zq.decor import AsyncTaskiqDecoratedTask
from zq.events import TaskiqEvents
from zq.exceptions import SendTaskError, TaskBrokerMismatchError
from zq.formatters.proxy_formatter import ProxyFormatter
from zq.kicker import check_labels
from zq.message import BrokerMessage, TaskiqMessage
from zq.plugins import event_of, middleware_base
from zq.result_backends.dummy import DummyResultBackend
from zq.serializers.base import TaskiqSerializer
from zq.serializers.msgpack_serializer import MSGPackSerializer
from zq.state import TaskiqState

if TYPE_CHECKING:
    from zq.actors.admission import Admission

_T = TypeVar("_T")
EventHandler = Callable[[TaskiqState], Awaitable[None] | None]
__all__ = ["AckableMessage", "AsyncBroker", "ShutdownReport"]

log = logging.getLogger("zq.broker")


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    """What ``shutdown()`` did with the tasks this process had accepted (a zq extension).

    ``unfinished``: ids of tasks kicked here (or held by this process's dispatcher) that had
    not run to a result when it stopped. ``kept_by`` says who still holds them (the journal,
    or the dispatcher this process joined), or is None: then they are ``lost``, and the
    broker also logged them at ERROR. An empty report means everything was passed on.
    """

    unfinished: tuple[str, ...] = ()
    kept_by: str | None = None

    @property
    def lost(self) -> tuple[str, ...]:
        """The unfinished tasks nothing holds any more."""
        return () if self.kept_by is not None else self.unfinished


_ID_BATCH = 1024
_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))  # a UUID's byte 6 (bytes.translate)
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))  # its byte 8: the RFC 4122 variant
_ids: list[str] = []  # random ids made ahead, taken by list.pop (atomic: threads may kick)
os.register_at_fork(after_in_child=_ids.clear)  # a forked child must not reuse the parent's


def _more_ids() -> list[str]:
    """``_ID_BATCH`` random version-4 UUIDs as 32 hex digits, from one ``os.urandom`` call."""
    raw = bytearray(os.urandom(16 * _ID_BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    hexed = raw.hex()
    return [hexed[i : i + 32] for i in range(0, 32 * _ID_BATCH, 32)]


def default_id_generator() -> str:
    """A random task id in taskiq's format (``uuid.uuid4().hex``: 32 hex digits).

    The same 122 random bits from the OS as ``uuid4()``, fetched a batch at a time: a getrandom
    call per id was a quarter of ``kiq()``'s time on a virtual machine.
    """
    while True:
        try:
            return _ids.pop()
        except IndexError:  # (another thread may take the new ones first: then again)
            _ids.extend(_more_ids())


class _NoBackend(AsyncResultBackend[Any]):
    """Stands in until ``startup``: any use says what to do."""

    def _fail(self) -> SendTaskError:
        return SendTaskError(
            "the broker is not started: `await broker.startup()` or `async with broker:` first"
        )

    async def set_result(self, task_id: str, result: Any) -> None:
        raise self._fail()

    async def is_result_ready(self, task_id: str) -> bool:
        raise self._fail()

    async def get_result(self, task_id: str, with_logs: bool = False) -> Any:
        raise self._fail()


class AsyncBroker(ABC):
    """Registry of tasks plus the way to send them; subclasses implement ``kick``."""

    global_task_registry: ClassVar[dict[str, AsyncTaskiqDecoratedTask[Any, Any]]] = {}
    """Tasks declared with ``shared_task``: every broker can run them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass with taskiq's contract (its own ``listen``) gets ``BrokerMessage`` kicks."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("kick")
        if own is not None and cls.listens() and not hasattr(own, "__zq_taskiq_kick__"):
            cls.kick = _taskiq_kick(own)  # type: ignore[method-assign, assignment]

    @classmethod
    def listens(cls) -> bool:
        """Whether this broker follows taskiq's contract (``listen()``) instead of zq's."""
        return cls.listen is not AsyncBroker.listen

    def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        """Taskiq's contract for a broker of your own: yield each message a worker should run.

        zq's own brokers do not listen: their workers join the dispatcher.
        """
        raise NotImplementedError(f"{type(self).__name__} does not listen: run `zq worker`")

    def broker_message(self, task: TaskMsg) -> BrokerMessage:
        """A kick as taskiq's ``kick`` takes it: the formatter's ``BrokerMessage``."""
        args, kwargs = self.serializer.loadb(task.payload)
        labels = dict(task.labels)
        message = TaskiqMessage(
            task_id=task.task_id,
            task_name=task.task_name,
            labels=labels,
            args=list(args),
            kwargs=dict(kwargs),
        )
        return self.formatter.dumps(message)

    def __init__(
        self,
        result_backend: AsyncResultBackend[Any] | None = None,
        task_id_generator: Callable[[], str] | None = None,
    ) -> None:
        self.available_tasks: dict[str, AsyncTaskiqDecoratedTask[Any, Any]] = {}
        self.decorator_class: type[AsyncTaskiqDecoratedTask[Any, Any]] = AsyncTaskiqDecoratedTask
        self.serializer: TaskiqSerializer = MSGPackSerializer()
        self.formatter: TaskiqFormatter = ProxyFormatter(self)
        # taskiq's default for a broker of one's own keeps no results; zq's brokers set theirs
        # at startup (until then, using the backend says to start the broker).
        default = DummyResultBackend() if self.listens() else _NoBackend()
        self.result_backend: AsyncResultBackend[Any] = result_backend or default
        self.custom_result_backend = result_backend is not None
        self.id_generator: Callable[[], str] = task_id_generator or default_id_generator
        self.middlewares: list[TaskiqMiddleware] = []
        self.hooks: dict[str, list[TaskiqMiddleware]] = {hook: [] for hook in HOOKS}
        self.event_handlers: defaultdict[TaskiqEvents, list[EventHandler]] = defaultdict(list)
        self.state = TaskiqState()
        self.custom_dependency_context: dict[Any, Any] = {}
        self.dependency_overrides: dict[Any, Any] = {}
        self.is_worker_process = False
        self.is_scheduler_process = False
        self.started = False
        # What the last shutdown() did with unfinished tasks (``async with`` drops its value).
        self.last_shutdown: ShutdownReport | None = None

    @property
    def local_task_registry(self) -> dict[str, AsyncTaskiqDecoratedTask[Any, Any]]:
        """Tasks registered on this broker (taskiq's name for ``available_tasks``)."""
        return self.available_tasks

    # --- registry -------------------------------------------------------------------------

    @overload
    def task(
        self, task_name: Callable[..., _T], **labels: Any
    ) -> AsyncTaskiqDecoratedTask[Any, _T]: ...

    @overload
    def task(
        self, task_name: str | None = None, **labels: Any
    ) -> Callable[[Callable[..., _T]], AsyncTaskiqDecoratedTask[Any, _T]]: ...

    def task(self, task_name: Any = None, **labels: Any) -> Any:
        """Register a task.

        As ``@broker.task``, ``@broker.task()`` or ``@broker.task("name", **labels)``.
        """
        if callable(task_name):
            return self.register_task(task_name, None, **labels)

        def decorate(func: Callable[..., _T]) -> AsyncTaskiqDecoratedTask[Any, _T]:
            return self.register_task(func, task_name, **labels)

        return decorate

    def register_task(
        self, func: Callable[..., _T], task_name: str | None = None, **labels: Any
    ) -> AsyncTaskiqDecoratedTask[Any, _T]:
        """Register ``func`` under ``task_name`` (default ``module:function``)."""
        name = task_name or default_task_name(func)
        check_labels(labels, f"task {name!r}")
        decorated: AsyncTaskiqDecoratedTask[Any, _T] = self.decorator_class(
            self, name, func, labels, return_type_of(func)
        )
        self._register_task(name, decorated)
        return decorated

    def _register_task(self, task_name: str, task: AsyncTaskiqDecoratedTask[Any, Any]) -> None:
        if task.broker is not self:
            raise TaskBrokerMismatchError(broker=task.broker)
        self.available_tasks[task_name] = task

    def find_task(self, task_name: str) -> AsyncTaskiqDecoratedTask[Any, Any] | None:
        """The task of that name on this broker, else a shared task of that name, else None."""
        return self.available_tasks.get(task_name) or self.global_task_registry.get(task_name)

    def get_all_tasks(self) -> dict[str, AsyncTaskiqDecoratedTask[Any, Any]]:
        """Every task this broker can run: shared tasks, then its own (which win)."""
        return {**self.global_task_registry, **self.available_tasks}

    # --- configuration --------------------------------------------------------------------

    def with_serializer(self, serializer: TaskiqSerializer) -> Self:
        """Use ``serializer`` for arguments and results (workers must use the same)."""
        self.serializer = serializer
        return self

    def with_formatter(self, formatter: TaskiqFormatter) -> Self:
        """Set the formatter (used only where user code calls ``broker.formatter``)."""
        self.formatter = formatter
        return self

    def with_id_generator(self, generator: Callable[[], str]) -> Self:
        """Generate task ids with ``generator``."""
        self.id_generator = generator
        return self

    def with_result_backend(self, result_backend: AsyncResultBackend[Any]) -> Self:
        """Store results in ``result_backend`` instead of zq's embedded result store.

        The producer that kicked a task stores its result there when it arrives.
        """
        self.result_backend = result_backend
        self.custom_result_backend = True
        return self

    def add_middlewares(self, *middlewares: TaskiqMiddleware) -> None:
        """Add middlewares, in order: zq's ``TaskiqMiddleware`` subclasses, or taskiq's.

        Anything else is a ``TypeError`` here, naming it (a middleware that silently does
        nothing is worse than one that is refused).
        """
        for middleware in middlewares:
            base = middleware_base(middleware)
            if base is None:
                raise TypeError(
                    f"{middleware!r} is not a TaskiqMiddleware (zq's or taskiq's): "
                    "a middleware subclasses zq.TaskiqMiddleware"
                )
            middleware.set_broker(self)
            self.middlewares.append(middleware)
            for hook in HOOKS:
                if getattr(type(middleware), hook) is not getattr(base, hook, None):
                    self.hooks[hook].append(middleware)

    def with_middlewares(self, *middlewares: TaskiqMiddleware) -> Self:
        """``add_middlewares``, returning the broker."""
        self.add_middlewares(*middlewares)
        return self

    def on_event(self, *events: TaskiqEvents) -> Callable[[EventHandler], EventHandler]:
        """Decorator: call the function (sync or async, given the state) on ``events``."""
        members = [event_of(event) for event in events]

        def register(handler: EventHandler) -> EventHandler:
            for event in members:
                self.event_handlers[event].append(handler)
            return handler

        return register

    def add_event_handler(self, event: TaskiqEvents, handler: EventHandler) -> None:
        """Call ``handler`` (sync or async, given the state) on ``event``.

        ``event`` may be taskiq's own ``TaskiqEvents`` member (taskiq-fastapi registers those).
        """
        self.event_handlers[event_of(event)].append(handler)

    def with_event_handlers(self, event: TaskiqEvents, *handlers: EventHandler) -> Self:
        """Add ``handlers`` for ``event``, returning the broker."""
        self.event_handlers[event_of(event)].extend(handlers)
        return self

    def add_dependency_context(self, new_ctx: dict[Any, Any]) -> None:
        """Values that ``TaskiqDepends()`` resolves by type in every task (copied per task)."""
        self.custom_dependency_context.update(new_ctx)

    # --- lifecycle ------------------------------------------------------------------------

    async def startup(self) -> None:
        """Run the start-up event handlers, the middlewares' ``startup`` and the backend's."""
        self.started = True
        for event in self.lifecycle_events(starting=True):
            for handler in self.event_handlers[event]:
                await maybe_await(handler(self.state))
        await call_hooks(self.hooks["startup"], "startup")
        await self.result_backend.startup()

    async def shutdown(self) -> ShutdownReport:
        """Run the shutdown handlers, pass on what this process holds, stop the result backend.

        The event handlers and the middlewares' ``shutdown`` run first, then ``_drain``.
        Returns what became of the tasks not yet run (taskiq returns None; code that ignores
        the value works the same).
        """
        for event in self.lifecycle_events(starting=False):
            for handler in self.event_handlers[event]:
                await maybe_await(handler(self.state))
        await call_hooks(self.hooks["shutdown"], "shutdown")
        report = await self._drain()
        await self.result_backend.shutdown()
        self.started = False
        self.last_shutdown = report
        return report

    async def _drain(self) -> ShutdownReport:
        """Pass on the tasks this process holds before it stops (brokers that hold some)."""
        return ShutdownReport()

    def lifecycle_events(self, starting: bool) -> tuple[TaskiqEvents, ...]:
        """The events ``startup`` (or ``shutdown``) fires: the worker's or the client's."""
        if self.is_worker_process:
            return (TaskiqEvents.WORKER_STARTUP if starting else TaskiqEvents.WORKER_SHUTDOWN,)
        return (TaskiqEvents.CLIENT_STARTUP if starting else TaskiqEvents.CLIENT_SHUTDOWN,)

    async def __aenter__(self) -> Self:
        await self.startup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def forget_result(self, task_id: str, keep_for: float | None = None) -> None:  # noqa: B027
        """Drop a stored result of ``task_id`` here: a new run under that id may be coming.

        Brokers that keep results in this process do it (``unique_key`` reuses ids); one
        stored less than ``keep_for`` seconds ago is kept (``unique_for``: no new run then).
        """

    async def cancel(self, task_id: str) -> CancelOutcome:
        """Cancel a task: its waiters get ``TaskCancelledError``; returns what it did.

        ``"cancelled"``: it had not started and never will. ``"cancelling"``: it is running and
        is being stopped. ``"finished"``: it had ended already. ``"unknown"``: no such task.
        Cancelling again is harmless.
        """
        return (await self.cancel_many([task_id]))[0]

    async def cancel_many(self, task_ids: list[str]) -> list[CancelOutcome]:
        """Cancel several tasks at once; one outcome per id, in order (see ``cancel``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot cancel tasks")

    async def explain(self, task_id: str) -> str:
        """Where a task is and why it has not finished, in one line."""
        raise NotImplementedError(f"{type(self).__name__} cannot explain tasks")

    @abstractmethod
    async def kick(self, message: TaskMsg) -> None:
        """Hand one task to the queue."""

    def admission(self) -> Admission | None:
        """Where a kick from here waits for room, if the broker bounds it (else None).

        ``kiq()`` takes its place there before it builds the message, so a call waiting for
        room holds as little as possible; it then hands the message to ``kick_admitted``.
        """
        return None

    async def kick_admitted(self, message: TaskMsg) -> None:
        """``kick``, for a task that already took its place in ``admission()``."""
        await self.kick(message)


def _taskiq_kick(
    kick: Callable[[Any, BrokerMessage], Awaitable[None]],
) -> Callable[[Any, TaskMsg | BrokerMessage], Awaitable[None]]:
    """A broker's own ``kick(BrokerMessage)``, fed by zq's kicker (which hands a ``TaskMsg``)."""

    @functools.wraps(kick)
    async def wrapper(self: AsyncBroker, message: TaskMsg | BrokerMessage) -> None:
        if isinstance(message, TaskMsg):
            message = self.broker_message(message)
        await kick(self, message)

    wrapper.__zq_taskiq_kick__ = True  # type: ignore[attr-defined]
    return wrapper


def default_task_name(func: Callable[..., Any]) -> str:
    """``module:function``; for code run as ``__main__``, the name a worker imports it by."""
    module = func.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None and spec.name:  # `python -m package.module`: its real name
            module = spec.name.removesuffix(".__main__")
        else:  # `python path/to/script.py`: the path as a module name, as taskiq does
            module = ".".join(os.path.normpath(sys.argv[0]).removesuffix(".py").split(os.path.sep))
    name = func.__name__
    if name == "<lambda>":
        name = f"lambda_{uuid.uuid4().hex}"
    return f"{module}:{name}"


def return_type_of(func: Callable[..., Any]) -> Any:
    """The declared return type of ``func``, or None."""
    try:
        return typing.get_type_hints(func).get("return")
    except Exception:
        return None
