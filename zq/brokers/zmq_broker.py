"""``ZeroMQBroker``: the producer embeds a dispatcher; workers connect to it. No broker to run."""

from __future__ import annotations

import logging
from typing import Any

from zq.actors.base import Actor
from zq.actors.dispatcher import Dispatcher, GetStats, WaitExecutors
from zq.actors.results import FailWaiters, ResultStore
from zq.actors.submitter import Submitter
from zq.backends import EmbeddedResultBackend
from zq.broker import AsyncBroker
from zq.exceptions import AddressInUseError, SendTaskError
from zq.messages import TaskMsg
from zq.transport.sockets import DEFAULT_MAX_MSG_SIZE

log = logging.getLogger("zq.broker")


class ZeroMQBroker(AsyncBroker):
    """A broker whose queue is a dispatcher embedded in the process that kicks tasks.

    The first producer to start on ``address`` binds it; another producer (another process of
    the app, a script, the scheduler) that finds it taken joins that dispatcher and gets its own
    results back. Workers (``zq worker app:broker``) connect to ``address``.

    ``address`` may end in ``:*`` to bind a free port; ``endpoint`` then gives the one bound.
    """

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:5555",
        *,
        heartbeat_s: float = 1.0,
        liveness_timeout_s: float = 5.0,
        delivery_limit: int = 5,
        max_results: int = 100_000,
        result_ttl_s: float = 3600.0,
        join_timeout_s: float = 5.0,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
    ) -> None:
        super().__init__()
        self.address = address
        self.heartbeat_s = heartbeat_s
        self.liveness_timeout_s = liveness_timeout_s
        self.delivery_limit = delivery_limit
        self.max_results = max_results
        self.result_ttl_s = result_ttl_s
        self.join_timeout_s = join_timeout_s
        self.max_msg_size = max_msg_size
        self.endpoint = address
        self.dispatcher: Dispatcher | None = None
        self._store: ResultStore | None = None
        self._sink: Actor | None = None

    async def startup(self) -> None:
        """Start the result store, then bind the dispatcher or join the one on ``address``.

        In a worker process (``is_worker_process``) there is nothing to start.
        """
        await super().startup()
        if self.is_worker_process or self._sink is not None:
            return
        store = ResultStore(self.max_results, self.result_ttl_s)
        await store.start()
        self._store = store
        self.result_backend = EmbeddedResultBackend(store, self.serializer)
        dispatcher = Dispatcher(
            self.address,
            store,
            heartbeat_s=self.heartbeat_s,
            liveness_timeout_s=self.liveness_timeout_s,
            delivery_limit=self.delivery_limit,
            max_msg_size=self.max_msg_size,
        )
        sink: Actor
        try:
            await dispatcher.start()
            self.dispatcher = sink = dispatcher
            self.endpoint = dispatcher.endpoint
            log.info("dispatcher bound to %s", self.endpoint)
        except AddressInUseError:
            sink = Submitter(
                self.address,
                store,
                join_timeout_s=self.join_timeout_s,
                heartbeat_s=self.heartbeat_s,
                max_msg_size=self.max_msg_size,
            )
            try:
                await sink.start()
            except BaseException:
                await store.stop()
                raise
            log.info("joined the dispatcher already bound to %s", self.address)
        sink.watch(self._sink_died)
        self._sink = sink

    def _sink_died(self, actor: Actor, error: BaseException | None) -> None:
        if error is None or self._store is None or not self._store.alive:
            return
        # Without a journal, what the dispatcher held is gone: fail the waiters, never hang them.
        self._store.tell_nowait(FailWaiters(SendTaskError(f"the {actor.name} crashed: {error!r}")))

    async def shutdown(self) -> None:
        """Stop the dispatcher (or submitter) and the result store."""
        sink, self._sink, self.dispatcher = self._sink, None, None
        if sink is not None:
            await sink.stop()
        if self._store is not None:
            await self._store.stop()
            self._store = None
        await super().shutdown()

    async def kick(self, message: TaskMsg) -> None:
        """Hand the task to the dispatcher (waits if its mailbox is full)."""
        sink = self._sink
        if sink is None:
            raise SendTaskError(
                "the broker is not started: `await broker.startup()` or `async with broker:`"
            )
        await sink.tell(message)

    # --- zq extensions --------------------------------------------------------------------

    async def wait_workers(self, count: int = 1) -> int:
        """Wait until at least ``count`` executor processes have joined this dispatcher.

        Only in the process that bound the address. Returns how many are connected.
        """
        if self.dispatcher is None:
            raise SendTaskError("only the process that bound the address has the dispatcher")
        result: int = await self.dispatcher.ask(WaitExecutors(count))
        return result

    async def stats(self) -> dict[str, Any]:
        """Queue sizes, connected executors and counters of this process's dispatcher."""
        if self.dispatcher is None:
            return {}
        result: dict[str, Any] = await self.dispatcher.ask(GetStats())
        return result
