"""One small app written against taskiq's API, built on taskiq (``T = taskiq``) or zq.

Tasks and middlewares write an event log (``ZQ_DIFF_LOG``, one O_APPEND line per event): the
oracle for runs, retries, hooks and teardowns, read the same way for both libraries and for
worker processes.
"""

import asyncio
import dataclasses
import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

LOG_ENV = "ZQ_DIFF_LOG"


def log(event: str) -> None:
    """Append one event line to the log named by ``ZQ_DIFF_LOG``."""
    fd = os.open(os.environ[LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event}\n".encode())
    finally:
        os.close(fd)


def events(prefix: str = "") -> list[str]:
    """The logged events starting with ``prefix``, in order."""
    path = Path(os.environ[LOG_ENV])
    lines = path.read_text().splitlines() if path.exists() else []
    return [line for line in lines if line.startswith(prefix)]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Flaky(Exception):
    """Retried by the simple retry middleware."""


class SlowFlaky(Exception):
    """Retried by the smart retry middleware (with a delay)."""


class CodedError(Exception):
    """An error with keyword attributes set in ``__init__``."""

    def __init__(self, message: str, *, code: int, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class Db:
    """A dependency class: built per task, told the state."""

    def __init__(self, name: str = "db") -> None:
        self.name = name


def build(T: ModuleType, broker: Any) -> dict[str, Any]:
    """Register the app's middlewares, events, dependencies and tasks on ``broker``."""
    _middlewares(T, broker)
    tasks = _value_tasks(T, broker)
    tasks |= _failing_tasks(T, broker)
    tasks |= _context_tasks(T, broker, tasks["add"])
    return tasks


def _middlewares(T: ModuleType, broker: Any) -> None:
    class Recorder(T.TaskiqMiddleware):  # type: ignore[misc, name-defined]
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def _log(self, hook: str, message: Any, extra: str = "") -> None:
            if message.task_name.startswith("diff:mw"):
                log(f"mw {self.name}.{hook}{extra}")

        def pre_send(self, message: Any) -> Any:
            self._log("pre_send", message)
            if message.task_name.startswith("diff:mw"):
                message.labels[f"via_{self.name}"] = 1
            return message

        async def post_send(self, message: Any) -> None:
            self._log("post_send", message)

        async def pre_execute(self, message: Any) -> Any:
            self._log("pre_execute", message, f" labels={sorted(message.labels)}")
            return message

        def post_execute(self, message: Any, result: Any) -> None:
            self._log("post_execute", message, f" err={result.is_err}")

        def on_error(self, message: Any, result: Any, exception: BaseException) -> None:
            self._log("on_error", message, f" {type(exception).__name__}")

        def post_save(self, message: Any, result: Any) -> None:
            self._log("post_save", message)

    broker.add_middlewares(Recorder("A"), Recorder("B"))
    broker.add_middlewares(
        T.SimpleRetryMiddleware(default_retry_count=3, types_of_exceptions=[Flaky]),
        T.SmartRetryMiddleware(
            default_retry_count=3, default_delay=0.05, types_of_exceptions=[SlowFlaky]
        ),
    )

    @broker.on_event(T.TaskiqEvents.WORKER_STARTUP)
    async def startup(state: Any) -> None:
        state.greeting = "hello"
        state["answer"] = 42

    broker.add_dependency_context({Db: Db("from-context")})


def _value_tasks(T: ModuleType, broker: Any) -> dict[str, Any]:
    from taskiq_dependencies import Depends

    Context, TaskiqState = T.Context, T.TaskiqState

    @broker.task("diff:add")
    async def add(a: int, b: int) -> int:
        return a + b

    @broker.task("diff:sync_mul")
    def sync_mul(a: int, b: int) -> int:
        return a * b

    @broker.task("diff:point")
    async def shift(p: Point, by: int = 1) -> Point:
        assert isinstance(p, Point)
        return dataclasses.asdict(Point(p.x + by, p.y + by))  # type: ignore[return-value]

    @broker.task("diff:labels", fixed=7)
    async def labels(context: Context = Depends()) -> dict[str, Any]:
        picked = {k: v for k, v in context.message.labels.items() if k in ("fixed", "n", "flag")}
        return {k: [v, type(v).__name__] for k, v in picked.items()}

    async def user_dep(state: TaskiqState = Depends()) -> str:
        return f"{state.greeting}-{state['answer']}"

    async def resource(context: Context = Depends()) -> Any:
        log(f"dep open {context.message.args[0]}")
        try:
            yield "resource"
        except Exception as exc:
            log(f"dep saw {type(exc).__name__} {context.message.args[0]}")
            raise
        finally:
            log(f"dep close {context.message.args[0]}")

    @broker.task("diff:deps")
    async def deps(
        token: str,
        greeting: str = Depends(user_dep),
        res: str = Depends(resource),
        db: Db = Depends(),
        tagged: Annotated[str, Depends(user_dep)] = "",
    ) -> list[str]:
        return [token, greeting, res, db.name, tagged]

    @broker.task("diff:deps_fail")
    async def deps_fail(token: str, res: str = Depends(resource)) -> None:
        raise ValueError(token)

    return {
        "add": add,
        "sync_mul": sync_mul,
        "shift": shift,
        "labels": labels,
        "deps": deps,
        "deps_fail": deps_fail,
    }


def _failing_tasks(T: ModuleType, broker: Any) -> dict[str, Any]:
    from taskiq_dependencies import Depends

    Context = T.Context
    progress_module = importlib.import_module(f"{T.__name__}.depends.progress_tracker")
    ProgressTracker, TaskState = progress_module.ProgressTracker, progress_module.TaskState

    @broker.task("diff:flaky", retry_on_error=True, max_retries=3)
    async def flaky(token: str, fail_times: int) -> str:
        runs = len(events(f"run flaky {token}")) + 1
        log(f"run flaky {token}")
        if runs <= fail_times:
            raise Flaky(f"run {runs}")
        return f"{token} ok after {runs}"

    @broker.task("diff:smart_flaky", retry_on_error=True, max_retries=3)
    async def smart_flaky(token: str) -> str:
        runs = len(events(f"run smart {token}")) + 1
        log(f"run smart {token}")
        if runs < 3:
            raise SlowFlaky(f"run {runs}")
        return f"{token} ok after {runs}"

    @broker.task("diff:not_retried", retry_on_error=True, max_retries=3)
    async def not_retried(token: str) -> None:
        log(f"run not_retried {token}")
        raise KeyError(token)

    @broker.task("diff:coded")
    async def coded(code: int) -> None:
        raise CodedError("coded failure", code=code, details={"why": "test"})

    @broker.task("diff:hang", timeout=0.3)
    async def hang() -> None:
        await asyncio.Event().wait()

    @broker.task("diff:requeue")
    async def requeue(token: str, context: Context = Depends()) -> int:
        count = int(context.message.labels.get("X-Taskiq-requeue", 0))
        log(f"run requeue {token} {count}")
        if count < 2:
            await context.requeue()
        return count

    @broker.task("diff:progress")
    async def progress(fifo: str, tracker: ProgressTracker[int] = Depends()) -> str:
        await tracker.set_progress(TaskState.STARTED, 50)
        return await asyncio.to_thread(Path(fifo).read_text)

    return {
        "flaky": flaky,
        "smart_flaky": smart_flaky,
        "not_retried": not_retried,
        "coded": coded,
        "hang": hang,
        "requeue": requeue,
        "progress": progress,
    }


def _context_tasks(T: ModuleType, broker: Any, add: Any) -> dict[str, Any]:
    from taskiq_dependencies import Depends

    Context = T.Context

    @broker.task("diff:mw_echo")
    async def mw_echo(x: int) -> int:
        log("mw task runs")
        return x

    @broker.task("diff:mw_fail")
    async def mw_fail() -> None:
        log("mw task runs")
        raise RuntimeError("boom")

    @broker.task("diff:reject")
    async def reject(context: Context = Depends()) -> None:
        context.reject()

    def clock() -> str:
        return "real clock"

    broker.dependency_overrides[clock] = lambda: "fake clock"

    @broker.task("diff:clock")
    async def read_clock(now: str = Depends(clock)) -> str:
        return now

    @T.async_shared_broker.task("diff:shared", base=1)
    async def shared(x: int, context: Context = Depends()) -> list[Any]:
        return [x, sorted(k for k in context.message.labels if k in ("base", "extra"))]

    @broker.task("diff:parent")
    async def parent(x: int) -> int:
        child = await add.kiq(x, 1)
        result = await child.wait_result(timeout=10)
        return int(result.return_value) * 10

    return {
        "mw_echo": mw_echo,
        "mw_fail": mw_fail,
        "parent": parent,
        "reject": reject,
        "clock": read_clock,
        "shared": shared,
    }
