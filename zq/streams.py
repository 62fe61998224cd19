"""``TaskStream``: the items a generator task yields, read as they are produced (a zq extension).

.. code-block:: python

    @broker.task
    async def export(query: str) -> AsyncIterator[dict]:
        async for row in database.rows(query):
            yield row

    handle = await export.kiq("select ...")
    async for row in handle.stream():
        ...
    # the stream ended: the task's error, if it failed, was raised by the loop above

At most a window of items (the task's ``stream_window`` label; 256 by default) is on its way
or waiting here at once: a reader slower than the task makes the task wait, and nothing grows.
The task's result goes out only after its last item was read; ``stream.result`` holds it once
the loop ended. Items are decoded with the broker's serializer. What happens to items nobody
reads is in ``zq.actors.stream_inbox``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from zq.actors.results import ResultStore
from zq.result import TaskiqResult
from zq.result_backends.embedded import EmbeddedResultBackend

if TYPE_CHECKING:
    from zq.task import AsyncTaskiqTask

_Item = TypeVar("_Item")


def is_generator(func: Any) -> bool:
    """Whether ``func`` is a generator function (async or sync): a task that streams."""
    return inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func)


def store_of(handle: AsyncTaskiqTask[Any]) -> ResultStore:
    """The result store where ``handle``'s stream arrives; ``TypeError`` if there is none."""
    backend = handle.result_backend
    if isinstance(backend, EmbeddedResultBackend):
        return backend.store
    store = getattr(handle.broker, "result_store", None)
    if isinstance(store, ResultStore):
        return store
    raise TypeError(
        "stream() needs zq's ZeroMQBroker or InMemoryBroker, started in this process, and a "
        "handle returned by kiq() (or built with broker.result_backend)"
    )


def hold(broker: Any, task_id: str, handle: AsyncTaskiqTask[Any]) -> None:
    """Keep the items of generator task ``task_id`` here while ``handle`` lives (``kiq()``)."""
    store = getattr(broker, "result_store", None)
    if isinstance(store, ResultStore):
        store.streams.hold(task_id, handle)


class TaskStream(Generic[_Item]):
    """An async iterator over a generator task's items (``handle.stream()``).

    Leaving the loop early (``break``), or ``aclose()``, drops the items still coming: the
    task is not made to wait for them (it runs to its end; cancel it to stop it).
    """

    __slots__ = ("_fetched", "_handle", "_opened", "_serializer", "_store", "result")

    def __init__(self, handle: AsyncTaskiqTask[Any]) -> None:
        self._handle = handle
        self._store = store_of(handle)
        backend = handle.result_backend
        if isinstance(backend, EmbeddedResultBackend):
            self._serializer = backend.serializer
        else:
            assert handle.broker is not None  # store_of found the store through it
            self._serializer = handle.broker.serializer
        self._store.streams.open(handle.task_id)  # StreamLostError if items were dropped
        self._opened = True  # items are kept for this reader from now on
        self._fetched = handle.kicked_here  # (else the dispatcher is asked to send them here)
        self.result: TaskiqResult[Any] | None = None  # the task's, once the stream ended

    def __aiter__(self) -> TaskStream[_Item]:
        return self

    async def __anext__(self) -> _Item:
        handle, store = self._handle, self._store
        task_id = handle.task_id
        if not self._opened:  # ended, or closed
            raise StopAsyncIteration
        if not self._fetched:
            self._fetched = True
            backend = handle.result_backend
            if isinstance(backend, EmbeddedResultBackend) and backend.fetch is not None:
                await backend.fetch([task_id])
        try:
            payload = await store.next_item(task_id)
        except BaseException:
            self._close()
            raise
        if payload is not None:
            item: _Item = self._serializer.loadb(payload)
            return item
        message = store.peek(task_id)
        self._close()
        assert message is not None  # next_item ends only at the result
        result = TaskiqResult.from_message(message, self._serializer)
        self.result = handle._cast(result)  # cast to the handle's return type
        self.result.raise_for_error()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading: the items still coming are dropped (the task does not wait)."""
        self._close()

    def _close(self) -> None:
        if self._opened:
            self._opened = False
            self._store.streams.close(self._handle.task_id)

    def __del__(self) -> None:  # a loop left with ``break`` never says so otherwise
        self._close()
