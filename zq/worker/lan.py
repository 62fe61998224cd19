"""``zq worker --discover``: the app's dispatchers announced on the LAN, followed.

Each worker process browses for them when it starts (waiting, and saying so, until one is
announced), joins those it found, and goes on browsing: when the set differs from the one it
joined for ``SETTLE_S`` it tells the supervisor, which replaces it (the new process ready before
the old one drains), so that a new dispatcher gets its share of the slots and a departed one
gives its share back. An empty set changes nothing: the
links keep trying the last addresses (a dispatcher restarting on its address comes back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from zq.brokers.zmq_broker import ZeroMQBroker
from zq.transport.discovery import Browser

log = logging.getLogger("zq.worker")

SETTLE_S = 1.0  # a dispatcher restarting on its address leaves and comes back within this
WAIT_LOG_S = 5.0  # how often a worker that has found nothing yet says so


class Discovered:
    """The dispatchers one worker process found, and the browser that follows them."""

    def __init__(self, broker: ZeroMQBroker, index: int) -> None:
        curve = broker.socket_config().curve
        self.app_name = broker.app_name
        self.index = index
        self.browser = Browser(self.app_name, key=curve.server.decode() if curve else "")
        self.addresses: list[str] = []
        self._settling: asyncio.TimerHandle | None = None

    async def first(self) -> list[str]:
        """Browse until at least one dispatcher is announced; its (and the others') addresses."""
        await self.browser.start()
        waited = 0.0
        while not await self.browser.wait_any(WAIT_LOG_S):
            waited += WAIT_LOG_S
            log.warning(
                "worker %d: no dispatcher of %r announced on the LAN after %g s; still looking "
                "(is it made with ZeroMQBroker(announce=True) and bound to a LAN address?)",
                self.index, self.app_name, waited,
            )  # fmt: skip
        self.addresses = await self.browser.settled()
        return self.addresses

    def follow(self, changed: Callable[[list[str]], None]) -> None:
        """Call ``changed`` with the new addresses once a change has settled."""
        loop = asyncio.get_running_loop()

        def settled() -> None:
            now = self.browser.addresses()
            if now and now != self.addresses:
                self.addresses = now
                changed(now)

        def on_change() -> None:
            if self._settling is not None:
                self._settling.cancel()
            self._settling = loop.call_later(SETTLE_S, settled)

        self.browser.on_change = on_change

    async def stop(self) -> None:
        """Stop browsing."""
        if self._settling is not None:
            self._settling.cancel()
        await self.browser.stop()
