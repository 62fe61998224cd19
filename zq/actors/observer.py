"""An observer: a read-mostly connection to a dispatcher, for ``zq status`` and its kin.

It says ``Hello`` as an observer (with CURVE, its key must be allowed as an observer, producer
or worker), then asks ``Query``s and waits for their ``Answer``s. It never binds, never
submits and never becomes anybody's standby; the dispatcher counts it and otherwise pays
nothing for it until it asks. Write actions (replaying or purging dead letters) need a key
allowed as a producer or worker; the dispatcher drops them from an observer's key.

Not on any hot path: it uses ``zmq.asyncio`` for brevity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, cast

import zmq
import zmq.asyncio

from zq.core import codec
from zq.core.messages import (
    PROTOCOL_VERSION,
    ROLE_OBSERVER,
    SIGNATURE,
    Answer,
    Bye,
    Heartbeat,
    Hello,
    Message,
    Query,
    Refuse,
    Rejoin,
    Welcome,
)
from zq.exceptions import AddressInUseError, RemoteProtocolError, SecurityConfigError
from zq.transport import sockets
from zq.transport.sockets import SocketConfig


class ObserverError(RuntimeError):
    """The dispatcher could not answer a query (a bad argument, or a refused action)."""


class Observer:
    """One connection to the dispatcher at ``address``; ``async with`` opens and closes it."""

    def __init__(
        self, address: str, config: SocketConfig | None = None, timeout_s: float = 5.0
    ) -> None:
        self.address = address
        self.config = config or SocketConfig()
        self.timeout_s = timeout_s
        self.incarnation: str | None = None  # the dispatcher's, from its welcome
        self._ctx: zmq.asyncio.Context | None = None
        self._sock: zmq.asyncio.Socket | None = None
        self._ref = 0
        self._session = f"observer-{uuid.uuid4().hex}"

    async def __aenter__(self) -> Observer:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection and say hello; raises ``AddressInUseError`` if nobody answers.

        ``SecurityConfigError`` if the dispatcher refused this process (its key, its version).
        """
        self._ctx = zmq.asyncio.Context()
        plain = cast(zmq.Context[zmq.Socket[bytes]], self._ctx)
        sock = sockets.dealer(plain, self.address, self._session.encode(), self.config)
        self._sock = cast(zmq.asyncio.Socket, sock)
        try:
            await asyncio.wait_for(self._hello(), self.timeout_s)
        except TimeoutError:
            await self.close()
            raise AddressInUseError(
                f"no zq dispatcher answered at {self.address} within {self.timeout_s:g}s: is "
                "the app running there (and, with CURVE, is this process's key allowed)?"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def ask(self, what: str, **args: Any) -> Any:
        """The dispatcher's answer to ``what`` (see ``zq.actors.inspection``)."""
        self._ref += 1
        ref = self._ref
        try:
            await self._send(Query(ref, what, args))
            return await asyncio.wait_for(self._answer(ref), self.timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"the dispatcher at {self.address} did not answer within {self.timeout_s:g}s"
            ) from None

    async def updates(self, every: float = 1.0) -> AsyncIterator[dict[str, Any]]:
        """The dispatcher's status now, then every ``every`` seconds, pushed by the dispatcher.

        Its tick sets the pace: with the default heartbeat, every half second at the most.
        """
        self._ref += 1
        ref = self._ref
        await self._send(Query(ref, "subscribe", {"every": every}))
        loop = asyncio.get_running_loop()
        said = loop.time()
        while True:
            status: dict[str, Any] = await asyncio.wait_for(
                self._answer(ref), every + self.timeout_s
            )
            yield status
            if loop.time() - said >= every:  # a sign of life, or the dispatcher forgets us
                await self._send(Heartbeat())
                said = loop.time()

    async def close(self) -> None:
        """Say bye (so the dispatcher stops counting this observer) and close."""
        if self._sock is not None:
            with contextlib.suppress(zmq.ZMQError):  # not connected: nobody to say bye to
                await self._sock.send_multipart([SIGNATURE, codec.encode(Bye())], zmq.NOBLOCK)
            self._sock.close(linger=100)
            self._sock = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def _greeting(self) -> Hello:
        return Hello(
            ROLE_OBSERVER, PROTOCOL_VERSION, self._session, os.getpid(), socket.gethostname()
        )

    async def _hello(self) -> None:
        await self._send(self._greeting())
        while True:
            message = await self._recv()
            if isinstance(message, Welcome):
                self.incarnation = message.incarnation
                return
            if isinstance(message, Refuse):
                raise SecurityConfigError(
                    f"the dispatcher at {self.address} refused this observer: {message.reason}"
                )

    async def _answer(self, ref: int) -> Any:
        while True:
            message = await self._recv()
            if isinstance(message, Answer) and message.ref == ref:
                if message.error:
                    raise ObserverError(message.error)
                return message.body
            if isinstance(message, Rejoin):  # the dispatcher restarted: be counted again
                await self._send(self._greeting())

    async def _send(self, message: Message) -> None:
        """Send within ``timeout_s``, else ``TimeoutError``.

        With the dispatcher gone a send waits for it forever (``zq status --watch`` then did
        not even stop on Ctrl-C).
        """
        assert self._sock is not None
        sending = self._sock.send_multipart([SIGNATURE, codec.encode(message)])
        await asyncio.wait_for(sending, self.timeout_s)

    async def _recv(self) -> Message:
        assert self._sock is not None
        while True:
            frames = await self._sock.recv_multipart()
            if len(frames) != 2:
                continue
            try:
                return codec.decode(frames[0], frames[1])
            except RemoteProtocolError:
                continue
