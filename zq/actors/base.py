"""A small actor: one asyncio task, a bounded mailbox, ``tell``/``ask``, supervised.

Rules (after pykka and trio):

1. State is touched only by the actor's own task, inside ``receive``/``answer``/``poll_io``.
2. ``receive`` handles a ``tell``; an exception there crashes the actor, and its death
   watchers (its supervisor) decide what happens next.
3. ``answer`` handles an ``ask``; an exception there goes back to the asker and the actor
   lives on. ``answer`` may return a Future to answer later; the actor keeps it, and fails it
   with ``ActorDeadError`` if it dies first, so no asker ever hangs.
4. Timers only post messages to the actor itself (``send_after``).
5. Each wake-up drains everything that is waiting (I/O, then the mailbox) before
   ``after_batch`` runs once: that is where batched sends go out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from zq.exceptions import ActorDeadError, WouldBlock

log = logging.getLogger("zq.actors")

DeathWatcher = Callable[["Actor", BaseException | None], None]


class _Ask:
    __slots__ = ("message", "reply")

    def __init__(self, message: Any, reply: asyncio.Future[Any]) -> None:
        self.message = message
        self.reply = reply


class Actor:
    """Base class; subclasses override ``on_start``, ``receive``, ``answer``, ``on_stop``."""

    def __init__(self, name: str | None = None, mailbox_size: int = 100_000) -> None:
        self.name = name or type(self).__name__
        self.mailbox_size = mailbox_size
        self._mailbox: deque[Any] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._room: deque[asyncio.Future[None]] = deque()
        self._deferred: set[asyncio.Future[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._watchers: list[DeathWatcher] = []
        self._stopping = False
        self._dead = False
        self.started: asyncio.Event | None = None
        self.crash: BaseException | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the actor; returns once ``on_start`` finished, or raises what it raised."""
        self._loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name=self.name)
        waiter = self._loop.create_task(self.started.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not self.started.is_set():
            await self._task
            if self.crash is not None:
                raise self.crash  # the start-up failure, for the caller to handle
            raise ActorDeadError(f"{self.name} stopped while starting")

    async def stop(self) -> None:
        """Ask the actor to finish its current batch and stop; waits for it."""
        self._stopping = True
        self._wake()
        if self._task is not None:
            await asyncio.shield(self._task)

    def watch(self, watcher: DeathWatcher) -> None:
        """Call ``watcher(actor, exception or None)`` when the actor stops."""
        self._watchers.append(watcher)

    @property
    def alive(self) -> bool:
        """Started and not dead."""
        return self._task is not None and not self._dead

    # --- messages -------------------------------------------------------------------------

    def tell_nowait(self, message: Any) -> None:
        """Post ``message``; raises ``WouldBlock`` if the mailbox is full."""
        if self._dead:
            raise ActorDeadError(f"{self.name} is dead")
        if len(self._mailbox) >= self.mailbox_size:
            raise WouldBlock(f"{self.name}'s mailbox is full ({self.mailbox_size})")
        self._mailbox.append(message)
        waker = self._wakeup
        if waker is not None and not waker.done():
            waker.set_result(None)

    def tell_or_drop(self, message: Any) -> bool:
        """Post ``message`` if the actor runs and has room; whether it was posted.

        For messages whose loss the sender recovers from on its own (a stream reader's
        position, which the writer asks for again).
        """
        try:
            self.tell_nowait(message)
        except (WouldBlock, ActorDeadError):
            return False
        return True

    async def tell(self, message: Any) -> None:
        """Post ``message``, waiting for room in the mailbox if it is full."""
        while len(self._mailbox) >= self.mailbox_size and not self._dead:
            room = asyncio.get_running_loop().create_future()
            self._room.append(room)
            await room
        self.tell_nowait(message)

    async def ask(self, message: Any) -> Any:
        """Post ``message`` and wait for ``answer``'s reply (or its exception)."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.tell(_Ask(message, reply))
        result = await reply
        if isinstance(result, asyncio.Future):
            return await result
        return result

    def send_after(self, delay_s: float, message: Any) -> None:
        """Post ``message`` to this actor after ``delay_s`` seconds."""
        assert self._loop is not None
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            if not self._dead:
                self._mailbox.append(message)
                self._wake()

        handle = self._loop.call_later(delay_s, fire)
        self._timers.add(handle)

    # --- for subclasses -------------------------------------------------------------------

    async def on_start(self) -> None:
        """Acquire sockets and resources; ``started`` is set when this returns."""

    async def on_stop(self) -> None:
        """Release what ``on_start`` acquired. Runs after a crash too."""

    def receive(self, message: Any) -> None:
        """Handle a ``tell``."""
        raise NotImplementedError(f"{self.name} got an unexpected message {message!r}")

    def answer(self, message: Any) -> Any:
        """Handle an ``ask``; return the reply, or a Future that will hold it."""
        raise NotImplementedError(f"{self.name} cannot answer {message!r}")

    def poll_io(self) -> bool:
        """Drain ready I/O without blocking; return True if more may be waiting."""
        return False

    def io_waiting(self) -> bool:
        """Whether input is waiting, without reading it (checked just before the actor sleeps)."""
        return False

    def after_batch(self) -> None:
        """Runs once after each drained batch: flush what was accumulated."""

    def _wake(self) -> None:
        """Wake the actor's task (an I/O reader callback calls this)."""
        waker = self._wakeup
        if waker is not None and not waker.done():
            waker.set_result(None)

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._loop is not None and self.started is not None
        loop = self._loop
        error: BaseException | None = None
        try:
            await self.on_start()
            self.started.set()
            mailbox = self._mailbox
            while not self._stopping:
                more_io = self.poll_io()
                while mailbox:
                    item = mailbox.popleft()
                    if type(item) is _Ask:
                        self._answer(item)
                    else:
                        self.receive(item)
                while self._room and len(mailbox) < self.mailbox_size:
                    room = self._room.popleft()
                    if not room.done():
                        room.set_result(None)
                self.after_batch()
                if more_io or mailbox or self._stopping:
                    continue
                self._wakeup = loop.create_future()
                # An edge may have fired before we armed (after_batch's sends can consume it).
                # Only look here: what poll_io handled now would wait for after_batch until the
                # next wake-up (a lost wake-up: a result routed only on the next tick).
                if self.io_waiting() or mailbox:
                    self._wakeup = None
                    continue
                await self._wakeup
                self._wakeup = None
        except asyncio.CancelledError:
            error = None
            raise
        except BaseException as exc:
            error = exc
            self.crash = exc
            if self.started.is_set():  # a start-up failure goes to the caller of start()
                log.exception("actor %s crashed", self.name)
        finally:
            await self._die(error)

    def _answer(self, item: _Ask) -> None:
        if item.reply.done():
            return
        try:
            result = self.answer(item.message)
        except Exception as exc:
            item.reply.set_exception(exc)
            return
        if isinstance(result, asyncio.Future) and not result.done():
            self._deferred.add(result)
            result.add_done_callback(self._deferred.discard)
        item.reply.set_result(result)

    async def _die(self, error: BaseException | None) -> None:
        self._dead = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        try:
            await self.on_stop()
        except Exception:
            log.exception("actor %s failed while stopping", self.name)
        dead = ActorDeadError(
            f"{self.name} stopped" + (f" after a crash: {error!r}" if error else "")
        )
        while self._mailbox:
            item = self._mailbox.popleft()
            if type(item) is _Ask and not item.reply.done():
                item.reply.set_exception(dead)
        for future in list(self._deferred):
            if not future.done():
                future.set_exception(dead)
        for room in self._room:
            if not room.done():
                room.set_result(None)
        for watcher in self._watchers:
            try:
                watcher(self, error)
            except Exception:
                log.exception("death watcher of %s failed", self.name)


async def within(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait for ``event`` up to ``timeout_s`` (None: no limit); whether it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout_s)
    except TimeoutError:
        return False
    return True
