"""``gather``: wait for several tasks at once."""

from __future__ import annotations

import asyncio
from typing import Any

from zq.exceptions import TaskiqResultTimeoutError
from zq.result import TaskiqResult
from zq.result_backends.embedded import EmbeddedResultBackend
from zq.task import AsyncTaskiqTask


async def gather(
    *tasks: AsyncTaskiqTask[Any],
    timeout: float = -1,
    with_logs: bool = False,
    periodicity: float = 0.1,
) -> tuple[TaskiqResult[Any], ...]:
    """Results of ``tasks``, in the order given (taskiq's signature).

    With zq's embedded backend all results are pushed to one group waiter; ``periodicity``
    is only used to poll third-party backends. Raises ``TaskiqResultTimeoutError`` after
    ``timeout`` seconds (<= 0: no limit).
    """
    if not tasks:
        return ()
    limit = timeout if timeout > 0 else None
    backend = tasks[0].result_backend
    try:
        if isinstance(backend, EmbeddedResultBackend) and all(
            t.result_backend is backend for t in tasks
        ):
            ids = [t.task_id for t in tasks]
            types = [t.return_type for t in tasks]
            elsewhere = [t.task_id for t in tasks if not t.kicked_here]  # ask for their results
            waiting = backend.wait_all(ids, types, fetch=elsewhere)
            return tuple(await asyncio.wait_for(waiting, limit))
        waits = [t.wait_result(check_interval=periodicity, with_logs=with_logs) for t in tasks]
        return tuple(await asyncio.wait_for(asyncio.gather(*waits), limit))
    except TimeoutError:
        raise TaskiqResultTimeoutError(timeout=timeout) from None
