"""A running task's progress report (taskiq's ``TaskProgress`` and ``TaskState``). Pure data.

``zq.depends.progress_tracker`` re-exports both under taskiq's path; they live here so that the
result backends can encode them without importing the dependency (which needs the broker).
"""

from __future__ import annotations

import enum
from typing import Generic, TypeVar

import msgspec

_ProgressType = TypeVar("_ProgressType")


class TaskState(str, enum.Enum):  # noqa: UP042 - taskiq's type, str() included
    """Where a task is."""

    STARTED = "STARTED"
    FAILURE = "FAILURE"
    SUCCESS = "SUCCESS"
    RETRY = "RETRY"


class TaskProgress(msgspec.Struct, Generic[_ProgressType], kw_only=True):
    """A progress report: a state and any data (``meta``) the serializer can carry."""

    state: TaskState | str
    meta: _ProgressType | None = None
