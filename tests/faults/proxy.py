"""A small TCP proxy on 127.0.0.1 that can black-hole its traffic: a partition on loopback.

``blackhole()``: bytes stop flowing both ways on every connection (they are not read), and new
connections are accepted and held without reaching the server, as behind a dead link.
``heal()``: the held connections are closed (both ends see a reset, as when a NAT or firewall
forgets them) and new connections are forwarded again.
"""

from __future__ import annotations

import asyncio
import contextlib


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_port``; start with ``async with``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.open = asyncio.Event()
        self.open.set()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._drop_all()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def blackhole(self) -> None:
        self.open.clear()

    def heal(self) -> None:
        self._drop_all()
        self.open.set()

    async def flap(self, period_s: float, duration_s: float) -> int:
        """Alternate black-hole and heal every ``period_s`` for ``duration_s``; ends healed.

        Driven by the loop's timers (the fault's own rhythm). Returns how many black-holes.
        """
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        outages = 0
        end = loop.time() + duration_s

        def toggle() -> None:
            nonlocal outages
            if self.open.is_set() and loop.time() < end:
                self.blackhole()
                outages += 1
            else:
                self.heal()
                if loop.time() >= end:
                    done.set()
                    return
            loop.call_later(period_s, toggle)

        toggle()
        await done.wait()
        return outages

    def _drop_all(self) -> None:
        for writer in list(self._held):
            writer.transport.abort()
        self._held.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.add(writer)
        await self.open.wait()  # a black-holed connection waits here until heal() drops it
        if writer.transport.is_closing():
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._held.add(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.get_running_loop().create_task(self._pump(src, dst, writer, up_writer))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        *ends: asyncio.StreamWriter,
    ) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if not self.open.is_set():  # black-holed: swallowed, and no one is told;
                    await self.open.wait()  # heal() drops this connection
                    return
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for end in ends:
                with contextlib.suppress(Exception):
                    end.transport.abort()
                self._held.discard(end)
