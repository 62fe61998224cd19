"""Finding an app's dispatchers on the LAN: DNS-SD over multicast DNS (python-zeroconf).

A dispatcher asked to (``ZeroMQBroker(announce=True)``) registers a ``_zq._tcp.local.``
service whose TXT record names the app, the protocol and, with CURVE, the dispatcher's public
key; ``zq worker --discover`` and the others browse for the services of their app.

Discovery only finds addresses. With CURVE on, the handshake still decides who gets in: a
spoofed announcement leads to a refused handshake. An announcement whose key is not the one
this process trusts is skipped before anything connects to it, so that a stranger's
announcement does not even take a share of a worker's slots.

python-zeroconf is an optional extra (``pip install 'zq[discovery]'``), imported on first use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zq.core.messages import PROTOCOL_VERSION
from zq.exceptions import DiscoveryError

log = logging.getLogger("zq.discovery")

SERVICE = "_zq._tcp.local."
_LOOKUP_MS = 3000  # how long one announcement's details are asked for
ANSWERS_BY_S = 1.25  # every responder has answered the first query (Browser.settled)


def require() -> None:
    """Raise ``DiscoveryError`` now if discovery cannot run here (python-zeroconf missing)."""
    _zeroconf()


def _zeroconf() -> Any:
    try:
        import zeroconf.asyncio
    except ImportError:
        raise DiscoveryError(
            "discovery needs python-zeroconf, an optional extra: pip install 'zq[discovery]'"
        ) from None
    return zeroconf


@dataclass(frozen=True, slots=True)
class Found:
    """One announced dispatcher: where it listens and the key it says it has."""

    address: str  # tcp://IP:PORT
    key: str  # its CURVE public key (Z85), "" without CURVE
    protocol: int


def _host_port(endpoint: str) -> tuple[str, int]:
    scheme, _, rest = endpoint.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        raise DiscoveryError(f"only a tcp:// dispatcher can be announced, not {endpoint}")
    return host.strip("[]"), int(port)


def _own_addresses(host: str) -> list[str]:
    """The IPv4 addresses a dispatcher bound to ``host`` is reached at."""
    if host not in ("*", "0.0.0.0", ""):
        return [host]
    every = [ip for ip in _zeroconf().get_all_addresses() if not ip.startswith("127.")]
    return every or ["127.0.0.1"]


class Announcer:
    """Announces one dispatcher of ``app`` at ``endpoint`` until ``stop``."""

    def __init__(self, app: str, endpoint: str, key: str = "") -> None:
        host, self.port = _host_port(endpoint)
        self.app, self.key = app, key
        self.addresses = _own_addresses(host)
        self._zc: Any = None
        self._info: Any = None

    async def start(self) -> None:
        """Register the service (mDNS probes first: about a second)."""
        zc_module = _zeroconf()
        # An instance name is at most 63 bytes; the app and address make it unique on a LAN.
        name = f"{self.app} {self.addresses[0]}:{self.port}"[:63]
        self._info = zc_module.ServiceInfo(
            SERVICE,
            f"{name}.{SERVICE}",
            port=self.port,
            parsed_addresses=self.addresses,
            properties={"app": self.app, "proto": str(PROTOCOL_VERSION), "key": self.key},
        )
        self._zc = zc_module.asyncio.AsyncZeroconf()
        await self._zc.async_register_service(self._info, allow_name_change=True)
        log.info(
            "announced as %r on the LAN: %s port %d", self.app, ", ".join(self.addresses), self.port
        )

    async def stop(self) -> None:
        """Say goodbye (browsers drop it at once) and close."""
        if self._zc is None:
            return
        zc, self._zc = self._zc, None
        try:
            await zc.async_unregister_service(self._info)
        finally:
            await zc.async_close()


class Browser:
    """Follows the dispatchers announced for ``app``; ``on_change`` is called on each change.

    ``key``: the dispatcher key this process trusts (Z85); announcements with another key are
    skipped (and logged once each).
    """

    def __init__(
        self, app: str, *, key: str = "", on_change: Callable[[], None] | None = None
    ) -> None:
        self.app, self.key, self.on_change = app, key, on_change
        self.found: dict[str, Found] = {}  # by service name
        self._skipped: set[str] = set()
        self._zc: Any = None
        self._browser: Any = None
        self._lookups: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._started_at = 0.0

    def addresses(self) -> list[str]:
        """The addresses found so far, sorted (each once)."""
        return sorted({found.address for found in self.found.values()})

    async def start(self) -> None:
        """Start browsing (the first query goes out at once)."""
        zc_module = _zeroconf()
        self._started_at = asyncio.get_running_loop().time()
        self._zc = zc_module.asyncio.AsyncZeroconf()
        self._browser = zc_module.asyncio.AsyncServiceBrowser(
            self._zc.zeroconf, SERVICE, handlers=[self._on_state]
        )

    async def stop(self) -> None:
        """Stop browsing."""
        for task in list(self._lookups):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
        self._browser = self._zc = None

    async def wait_any(self, timeout_s: float) -> list[str]:
        """The addresses found, waiting up to ``timeout_s`` for the first."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while not self.found and loop.time() < end:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), end - loop.time())
            except TimeoutError:
                break
        return self.addresses()

    async def settled(self) -> list[str]:
        """The addresses found once every dispatcher has had time to answer the first query.

        A responder answers within ~120 ms, but multicasts a record at most once a second
        (RFC 6762, 6): one that answered another host's query just now answers ours up to a
        second later. So: ``ANSWERS_BY_S`` after the browsing began.
        """
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._started_at + ANSWERS_BY_S - loop.time()))
        return self.addresses()

    def _on_state(self, zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        if state_change.name == "Removed":
            if self.found.pop(name, None) is not None:
                log.info("dispatcher %s of %r left", name, self.app)
                self._notify()
            return
        task = asyncio.get_running_loop().create_task(self._look_up(zeroconf, service_type, name))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _look_up(self, zeroconf: Any, service_type: str, name: str) -> None:
        zc_module = _zeroconf()
        info = zc_module.asyncio.AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, _LOOKUP_MS):
            return
        found = _read(info, self.app)
        if found is None:
            return
        if self.key and found.key != self.key:
            if name not in self._skipped:
                self._skipped.add(name)
                log.warning(
                    "skipping %s, announced as %r: its key is not the dispatcher key this "
                    "process trusts (--curve-server-key)",
                    found.address,
                    self.app,
                )
            return
        if self.found.get(name) != found:
            self.found[name] = found
            log.info("found a dispatcher of %r at %s", self.app, found.address)
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        if self.on_change is not None:
            self.on_change()


def _read(info: Any, app: str) -> Found | None:
    """The announcement in ``info`` if it is one of ``app``'s, else None."""
    props = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in info.properties.items()
    }
    if props.get("app") != app or info.port is None:
        return None
    v4 = [ip for ip in info.parsed_addresses() if ":" not in ip]
    if not v4:
        return None
    try:
        protocol = int(props.get("proto") or 0)
    except ValueError:
        protocol = 0
    if protocol != PROTOCOL_VERSION:
        log.warning(
            "skipping %s:%d, announced as %r: it speaks zq protocol %s, this process %d",
            v4[0], info.port, app, props.get("proto"), PROTOCOL_VERSION,
        )  # fmt: skip
        return None
    return Found(f"tcp://{v4[0]}:{info.port}", props.get("key") or "", protocol)


async def discover(app: str, timeout_s: float, *, key: str = "") -> list[str]:
    """The addresses of ``app``'s dispatchers found within ``timeout_s``.

    Returns once every dispatcher has had time to answer (``Browser.settled``).
    """
    browser = Browser(app, key=key)
    await browser.start()
    try:
        if await browser.wait_any(timeout_s):
            return await browser.settled()
        return browser.addresses()
    finally:
        await browser.stop()
