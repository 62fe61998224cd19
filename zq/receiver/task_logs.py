"""Task log capture: what a task logs through ``logging`` while it runs travels with its result.

A ``TaskLogs`` handler on the root logger of a worker process keeps the records emitted inside
a running task (in its asyncio context, or in the thread a sync task runs in, which gets a copy
of that context) in that task's buffer, bounded per task; the receiver puts them in the
result's ``log`` field and the dispatcher keeps them in the task's history (``zq task show``).

A task that logs nothing costs a context variable set and reset per run; with capture off
(``zq worker --no-capture-logs``) the receiver sets nothing and no handler is installed.
zq's own records (``zq.*``) are left out: the task's error and traceback travel anyway.
Tasks in a process pool (``--use-process-pool``) run in other processes and are not captured.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

MAX_LINES = 100  # per task; past it, one line says how many were left out
MAX_LINE_CHARS = 2000  # per record, its traceback included

capturing: ContextVar[list[str] | None] = ContextVar("zq_task_log", default=None)

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TaskLogs(logging.Handler):
    """Keeps the records of the running task (see ``capturing``) in its buffer."""

    def __init__(self, level: int | str = logging.NOTSET, fmt: str = DEFAULT_FORMAT) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(fmt))

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record to the running task's lines, if a task runs and has room."""
        lines = capturing.get()
        if lines is None or record.name == "zq" or record.name.startswith("zq."):
            return
        if len(lines) > MAX_LINES:
            return
        if len(lines) == MAX_LINES:
            lines.append("(further log lines of this task were left out)")
            return
        try:
            text = self.format(record)
        except Exception:  # a bad format string in the task: say so, never fail the task
            text = f"{record.levelname} {record.name}: (unformattable: {record.msg!r})"
        lines.append(text[:MAX_LINE_CHARS])


def install(level: int | str) -> TaskLogs:
    """Put a ``TaskLogs`` handler at ``level`` on the root logger (once per process)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, TaskLogs):
            return handler
    handler = TaskLogs(level)
    root.addHandler(handler)
    return handler
