"""A broker of the app's own, written as taskiq's docs describe, with zq's imports.

It keeps its queue in a directory: ``kick`` writes one file per message, ``listen`` claims
files by renaming them (so two workers never take the same one), is woken by the directory's
changes (watchdog), and acks by deleting them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from zq import AckableMessage, AsyncBroker, BrokerMessage

QUEUE = Path(os.environ.get("QUEUE_DIR", "queue"))
EXEC_LOG = Path(os.environ.get("EXEC_LOG", "exec.log"))


class DirectoryBroker(AsyncBroker):
    """taskiq's broker contract: ``kick`` a BrokerMessage, ``listen`` for them."""

    def __init__(self) -> None:
        super().__init__(None, None)

    async def kick(self, message: BrokerMessage) -> None:
        QUEUE.mkdir(exist_ok=True)
        staged = QUEUE / f".{message.task_id}"
        staged.write_bytes(message.message)
        staged.rename(QUEUE / f"{message.task_id}.task")

    async def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        QUEUE.mkdir(exist_ok=True)
        loop, changed = asyncio.get_running_loop(), asyncio.Event()

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                loop.call_soon_threadsafe(changed.set)

        observer = Observer()
        observer.schedule(Wake(), str(QUEUE))
        observer.start()
        try:
            while True:
                changed.clear()  # before the scan: a file that lands during it wakes the wait
                for path in sorted(QUEUE.glob("*.task")):
                    claimed = path.with_suffix(f".{os.getpid()}")
                    try:
                        path.rename(claimed)
                    except FileNotFoundError:  # another worker took it first
                        continue
                    yield AckableMessage(data=claimed.read_bytes(), ack=claimed.unlink)
                await changed.wait()
        finally:
            observer.stop()


broker = DirectoryBroker()


@broker.task
async def record(token: str) -> str:
    with EXEC_LOG.open("a") as log:
        log.write(f"{token} {os.getpid()}\n")
    return token
