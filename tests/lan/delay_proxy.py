"""A TCP proxy that delays what it carries, with jitter, and can stall or cut connections.

    python tests/lan/delay_proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT [--delay-ms 20]
        [--jitter-ms 5] [--seed N]

Run inside a test-bed host (``Lan.spawn``): each byte read from one side is written to the
other ``delay ± jitter`` ms later, in order (a chunk never overtakes the one before it, as on
a TCP stream). SIGUSR1 cuts every connection (both sides closed at once); SIGUSR2 stalls the
proxy (nothing is forwarded, nothing dropped) or lets it go again. Prints ``ready PORT`` once
it listens (port 0: a free one).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys


class Proxy:
    def __init__(self, target: tuple[str, int], delay_s: float, jitter_s: float, seed: int) -> None:
        self.target = target
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.random = random.Random(seed)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.writers: set[asyncio.StreamWriter] = set()

    def cut(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def stall(self) -> None:
        if self.flowing.is_set():
            self.flowing.clear()
        else:
            self.flowing.set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))
        await asyncio.gather(
            self.pump(reader, up_writer), self.pump(up_reader, writer), return_exceptions=True
        )
        for end in (writer, up_writer):
            end.transport.abort()
            self.writers.discard(end)

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = loop.create_task(self.deliver(queue, writer))
        last = 0.0
        try:
            while chunk := await reader.read(65536):
                jitter = self.random.uniform(-self.jitter_s, self.jitter_s)
                last = max(last, loop.time() + self.delay_s + jitter)
                queue.put_nowait((last, chunk))
            queue.put_nowait((last, b""))
            await deliver
        finally:
            deliver.cancel()
            writer.transport.abort()

    async def deliver(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            at, chunk = await queue.get()
            if not chunk:
                return
            await asyncio.sleep(max(0.0, at - loop.time()))  # the delay itself
            await self.flowing.wait()
            writer.write(chunk)
            await writer.drain()


async def main(args: argparse.Namespace) -> None:
    host, _, port = args.listen.rpartition(":")
    target_host, _, target_port = args.target.rpartition(":")
    proxy = Proxy(
        (target_host, int(target_port)), args.delay_ms / 1000, args.jitter_ms / 1000, args.seed
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut)
    loop.add_signal_handler(signal.SIGUSR2, proxy.stall)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(proxy.serve, host, int(port))
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()
    proxy.cut()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("listen")
    parser.add_argument("target")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
