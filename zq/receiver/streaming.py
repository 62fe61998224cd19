"""Running a generator task: each item it yields goes to the caller as it is produced.

An async generator runs on the event loop; a sync generator runs in a thread (its items
cross to the loop one by one, and the thread blocks while the reader is a window behind).
The task's result is what the generator returns (a sync generator's ``return value``; an
async generator's is None), and it goes out only once the reader took every item
(``StreamWriter.finish``). A task that is a step of a pipeline streams to nobody: its items
are dropped and its return value is the step's result.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from zq.actors.ports import StreamSink, TaskPort
from zq.core import labels as zq_labels
from zq.core import workflow
from zq.core.streams import DEFAULT_WINDOW
from zq.serializers.base import TaskiqSerializer

# The running task's stream (set by the receiver around the call), or None: items dropped.
current_sink: ContextVar[StreamSink | None] = ContextVar("zq_stream_sink", default=None)


def open_sink(port: TaskPort | None, task_id: str, labels: dict[str, Any]) -> StreamSink | None:
    """The stream for a generator task's items; None where nobody can read them.

    A pipeline's step has no reader (the dispatcher moves the pipeline on); a task run with
    no port (a test calling the receiver directly) has nowhere to send them.
    """
    if port is None or any(key in labels for key in workflow.LABELS):
        return None
    return port.open_stream(task_id, zq_labels.stream_window(labels, DEFAULT_WINDOW))


@contextmanager
def streaming(
    streams: bool, port: TaskPort | None, task_id: str, labels: dict[str, Any]
) -> Iterator[None]:
    """Around one run of a task: a generator task's stream is open, and closed at its end."""
    if not streams:
        yield
        return
    sink = open_sink(port, task_id, labels)
    token = current_sink.set(sink)
    try:
        yield
    finally:
        current_sink.reset(token)
        if sink is not None:
            sink.close()


async def drive(
    func: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    serializer: TaskiqSerializer,
    in_thread: Callable[[Callable[[], Any]], Awaitable[Any]],
) -> Any:
    """Run the generator ``func`` to its end, sending each item; its return value."""
    sink = current_sink.get()
    try:
        value = await _exhaust(func, args, kwargs, sink, serializer.dumpb, in_thread)
    except Exception:  # the reader gets every item sent before the error, then the error
        if sink is not None:
            await sink.finish()
        raise
    if sink is not None:
        await sink.finish()
    return value


async def _exhaust(
    func: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    sink: StreamSink | None,
    dumpb: Callable[[Any], bytes],
    in_thread: Callable[[Callable[[], Any]], Awaitable[Any]],
) -> Any:
    if inspect.isasyncgenfunction(func):
        agen = func(*args, **kwargs)
        try:
            async for item in agen:
                if sink is not None:
                    await sink.put(dumpb(item))
        finally:
            await agen.aclose()
        return None

    def pump() -> Any:
        gen = func(*args, **kwargs)
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            if sink is not None:
                sink.put_threadsafe(dumpb(item))

    return await in_thread(pump)
