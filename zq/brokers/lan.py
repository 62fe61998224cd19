"""A ``ZeroMQBroker`` on a LAN: its app's name, announcing its dispatcher, finding one to join.

Needs ``pip install 'zq[discovery]'`` (python-zeroconf). ``ZeroMQBroker(announce=True)``
announces the dispatcher the process binds by DNS-SD/mDNS as the broker's ``app_name``, so
that ``zq worker myapp.tasks:broker --discover`` finds it without an address.
``ZeroMQBroker(discover=True)`` (a joined producer, ``zq scheduler --discover``) joins the
first dispatcher of its app announced on the LAN that lets it in, and binds its own
``address`` only if it finds none within ``join_timeout_s`` (at most 2 s). With CURVE, an
announcement whose key is not the trusted ``curve_server_key`` is skipped, and a spoofed one
fails the handshake: discovery finds addresses, keys decide who gets in. A takeover (the
joined dispatcher left) does not browse again: the process binds its own ``address``, or joins
whoever bound it, as any joined producer does (and announces itself if ``announce=True``).

The name defaults to the module that made the broker (``myapp.tasks``), so that the process
that binds (which imports that module) and ``zq worker myapp.tasks:broker --discover`` agree
on it without being told; ``ZeroMQBroker(app_name=...)`` sets it for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from zq.actors.submitter import Submitter
from zq.exceptions import AddressInUseError, RemoteProtocolError, SecurityConfigError
from zq.transport.discovery import Announcer, discover

log = logging.getLogger("zq.broker")

ANNOUNCE_WAIT_S = 5.0  # start-up waits this long for the announcement (about 1 s of probing)


def caller_module(frame: FrameType | None) -> str:
    """The module of the first frame from ``frame`` outward that is not zq's own code."""
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "zq":
        frame = frame.f_back
    if frame is None:
        return "zq"
    name = str(frame.f_globals.get("__name__", "zq"))
    if name == "__main__":  # a script: its module name as `python -m`, else its file's stem
        spec = frame.f_globals.get("__spec__")
        file = frame.f_globals.get("__file__")
        name = spec.name if spec is not None else Path(file).stem if file else "__main__"
    return name


def default_app_name() -> str:
    """The app name of a broker being made now (see the module's docstring)."""
    return caller_module(sys._getframe(1))


def curve_key_text(public: bytes | None) -> str:
    """A Z85 key as the text an announcement carries ("" without CURVE)."""
    return public.decode() if public else ""


class Presence:
    """What one broker does on the LAN: announce the dispatcher it binds; find others."""

    def __init__(self, app_name: str) -> None:
        self.app_name = app_name
        self._announcer: Announcer | None = None
        self._starting: asyncio.Task[None] | None = None

    def announce(self, endpoint: str, key: bytes | None) -> None:
        """Announce the dispatcher at ``endpoint`` (in the background: probing takes ~1 s)."""
        if self._announcer is not None:  # (already announced: one dispatcher per process)
            return
        if endpoint.startswith("tcp://127.") or endpoint.startswith("tcp://localhost"):
            log.warning(
                "announce=True with a dispatcher bound to %s: workers on other hosts cannot "
                "reach it; bind the LAN address (with CURVE: see 'Running on a LAN')",
                endpoint,
            )
        announcer = Announcer(self.app_name, endpoint, curve_key_text(key))
        self._announcer = announcer
        self._starting = asyncio.get_running_loop().create_task(self._start(announcer))

    @staticmethod
    async def _start(announcer: Announcer) -> None:
        try:
            await announcer.start()
        except Exception as exc:  # mDNS not possible here: the dispatcher serves anyway
            log.error("could not announce %s on the LAN: %r", announcer.app, exc)

    async def announced(self, timeout_s: float = ANNOUNCE_WAIT_S) -> None:
        """Wait until the announcement ``announce`` began is out (or failed, logged)."""
        if self._starting is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._starting), timeout_s)
        except TimeoutError:
            log.warning(
                "announcing %s on the LAN takes over %g s; serving meanwhile",
                self.app_name,
                timeout_s,
            )

    async def withdraw(self) -> None:
        """Stop announcing (browsers drop the dispatcher at once)."""
        announcer, self._announcer = self._announcer, None
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(Exception):
                await starting
        if announcer is not None:
            try:
                await announcer.stop()
            except Exception as exc:
                log.warning("could not withdraw the announcement of %s: %r", self.app_name, exc)

    async def join(
        self,
        timeout_s: float,
        key: bytes | None,
        submitter: Callable[[str], Submitter],
        *,
        quiet: bool = False,
    ) -> Submitter | None:
        """Join the first dispatcher of this app announced on the LAN that lets us in."""
        found = await discover(self.app_name, timeout_s, key=curve_key_text(key))
        if not found and not quiet:
            log.info("no dispatcher of %r announced on the LAN: binding", self.app_name)
        for address in found:
            joining = submitter(address)
            try:
                await joining.start()
            except (AddressInUseError, SecurityConfigError, RemoteProtocolError) as exc:
                log.warning("not joining %s, announced as %r: %s", address, self.app_name, exc)
                continue
            if not quiet:
                log.info("joined the dispatcher of %r found at %s", self.app_name, address)
            return joining
        return None
