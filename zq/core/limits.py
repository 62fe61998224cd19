"""Size limits: what fits in one message under ``max_msg_size``, and the errors when not. Pure.

A frame over a peer's ``max_msg_size`` costs the connection, so a task is refused at ``kiq()``
(``MessageTooLargeError``) and a result is replaced by a ``ResultTooLargeError`` on the worker.
"""

from __future__ import annotations

import msgspec

from zq.core.messages import ResultMsg, TaskMsg
from zq.core.remote_errors import error_result

RESULT_HEADROOM = 65_536  # bytes of a result message besides its payload: labels, traceback
_labels_size = msgspec.msgpack.Encoder().encode
TASK_ENVELOPE = 128  # msgpack headers, the attempt number, the batch around a lone task


def task_overhead(message: TaskMsg) -> int:
    """The bytes of ``message`` on the wire, besides its payload (a bound, not exact)."""
    labels = _labels_size(message.labels) if message.labels else b""
    size = len(message.task_id) + len(message.task_name) + len(message.queue)
    return size + len(labels) + TASK_ENVELOPE


def task_too_large(message: TaskMsg, limit: int) -> str:
    """Why ``kiq()`` refuses ``message``: it is over ``limit`` bytes on the wire."""
    size = len(message.payload) + task_overhead(message)
    return (
        f"task {message.task_name} ({message.task_id}) is {size} bytes on the wire, over "
        f"max_msg_size ({limit} bytes): pass large data by reference (a path, a URL, a "
        "database key), or raise max_msg_size in every process of the cluster"
    )


def result_limit(max_msg_size: int) -> int:
    """The largest result payload an executor sends, leaving room for the rest of the message."""
    return max_msg_size - min(RESULT_HEADROOM, max_msg_size // 4)


def too_large(result: ResultMsg, limit: int) -> ResultMsg:
    """The error result that replaces ``result``, whose payload is over ``limit`` bytes.

    A frame over the dispatcher's ``max_msg_size`` would cost the connection, so the task
    fails with ``ResultTooLargeError`` instead (and its result is never half-sent).
    """
    message = (
        f"the result of task {result.task_id} is {len(result.payload)} bytes, over the "
        f"{limit} bytes that max_msg_size leaves for it: return a reference to the data "
        "instead, or raise max_msg_size in every process"
    )
    return error_result(
        result.task_id, result.labels, "ResultTooLargeError", message, result.execution_time
    )
