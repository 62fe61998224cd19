"""How a process's tasks outlive its dispatcher: the drain on shutdown, and the takeover.

A task whose ``kiq()`` returned is held by its dispatcher and by a second holder that survives
the dispatcher's process (docs/design.md, "When processes come and go"). These are the moves
``ZeroMQBroker`` makes when a process leaves:

- **drain** (``drain``): the process that stops passes on what it holds. A binder without a
  journal keeps serving until its tasks have run and their results reached their callers (or
  no executor is left to run them), bounded by ``shutdown_timeout_s``; with a journal it
  stops at once (the tasks are on disk for the next start). Either way its joined producers
  are told ``Leaving``. A joined producer waits until its tasks have results. What is left
  is reported: ``ShutdownReport``, and an ERROR line when nothing holds it any more.
- **takeover** (``next_sink``, ``move``): a joined producer whose dispatcher left (it said
  ``Leaving``, or went silent) binds the address itself, or joins whoever bound it first, and
  moves its unfinished tasks there. The kernel lets one process at a time bind a TCP
  address: that is the rule that keeps two dispatchers from serving one address (a stalled
  binder keeps its port, and its producers keep trying until it wakes up or dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from zq.abc.broker import ShutdownReport
from zq.actors.dispatcher import Dispatcher
from zq.actors.dispatcher_api import Depart, Drain, GetStats, WaitUntil, drained, held, served
from zq.actors.submitter import Submitter
from zq.exceptions import AddressInUseError, SendTaskError

log = logging.getLogger("zq.broker")

Sink = Dispatcher | Submitter
WORKER_GRACE_S = 1.0  # a draining binder with no worker connected waits this long for one
DEPART_S = 1.0  # a stopping binder waits this long for its producers' byes (``Depart``)


async def drain(sink: Sink, timeout_s: float) -> ShutdownReport:
    """Stop taking kicks, pass on what ``sink`` holds within ``timeout_s``, stop it; report."""
    sink.admission.close(SendTaskError("the broker is shutting down: kiq() is refused"))
    if isinstance(sink, Dispatcher):
        loop = asyncio.get_running_loop()
        stop_by = loop.time() + timeout_s
        await _drain_dispatcher(sink, timeout_s)
        if sink.alive:  # records to the standby, farewells; a moment for their byes
            await _within(sink.ask(Depart()), min(DEPART_S, max(0.0, stop_by - loop.time())))
        await sink.stop()
        if not sink.unfinished:
            return ShutdownReport()
        kept = f"journal {sink.journal.path}" if sink.journal is not None else None
        if kept is None and sink.standby.peer is not None:
            kept = f"the standby {sink.standby.peer.hex()[:12]}"
        return ShutdownReport(tuple(sink.unfinished), kept)
    await settle(sink, timeout_s)
    unfinished = tuple(sink.unfinished)
    orphaned, on_disk = sink.orphaned, len(sink.on_disk) == len(unfinished)
    await sink.stop()
    if not unfinished:
        return ShutdownReport()
    if orphaned is None and on_disk:
        log.info(
            "stopping with %d task(s) kicked here and not yet run, on the disk of the "
            "dispatcher at %s",
            len(unfinished),
            sink.address,
        )
        return ShutdownReport(unfinished, f"the journal of the dispatcher at {sink.address}")
    if orphaned is None:
        log.warning(
            "stopping with %d task(s) kicked here and not yet finished; the dispatcher at %s "
            "holds them: %s",
            len(unfinished),
            sink.address,
            _shown(unfinished),
        )
        return ShutdownReport(unfinished, f"the dispatcher at {sink.address}")
    log.error(
        "stopping with %d task(s) not run, lost (the dispatcher at %s %s): %s",
        len(unfinished),
        sink.address,
        orphaned,
        _shown(unfinished),
    )
    return ShutdownReport(unfinished)


async def settle(sink: Submitter, timeout_s: float) -> None:
    """Wait until a joined producer's tasks have results or are on the dispatcher's disk.

    At most ``timeout_s``; it ends early if the producer is orphaned (then the broker follows
    the takeover and settles again).
    """
    if sink.alive and sink.orphaned is None and (held := await sink.held()):
        log.info(
            "waiting up to %gs for %d task(s) kicked here to be run or journaled by the "
            "dispatcher (shutdown_timeout_s)",
            timeout_s,
            held,
        )
        await _within(sink.drain(), timeout_s)


async def _drain_dispatcher(dispatcher: Dispatcher, timeout_s: float) -> None:
    """Serve until ``drained`` holds, within ``timeout_s`` (with a journal: not at all).

    With tasks held and no worker connected, it first waits ``WORKER_GRACE_S`` for one: a
    worker that is up reconnects within a fraction of a second of this process binding (a
    script that kicks and exits at once would otherwise always beat it).
    """
    if not dispatcher.alive:
        return
    await dispatcher.ask(Drain())  # no new submissions from here on; producers are told
    if dispatcher.journal is not None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    stats = await dispatcher.ask(GetStats())
    count = held(stats)
    if not count:
        return
    if not stats["leases"]:
        log.info(
            "stopping with %d task(s) not run and no worker connected: waiting up to %gs for one",
            count,
            min(WORKER_GRACE_S, timeout_s),
        )
        await _within(dispatcher.ask(WaitUntil(served)), min(WORKER_GRACE_S, timeout_s))
    log.info(
        "stopping: waiting up to %gs for %d task(s) to run (shutdown_timeout_s)", timeout_s, count
    )
    await _within(dispatcher.ask(WaitUntil(drained)), max(0.0, deadline - loop.time()))


async def _within(waiting: Awaitable[object], timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiting, timeout_s)


def _shown(ids: tuple[str, ...]) -> str:
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


async def next_sink(
    make: Callable[[], Awaitable[Sink]], interval_s: float, given_up: Callable[[], bool]
) -> Sink | None:
    """Bind the address, or join whoever bound it, until one works; None if ``given_up``.

    A dispatcher that is still draining answers a join with ``Leaving``: that one is not the
    next, so it is dropped and the loop goes on. A stalled binder answers nothing and keeps
    its port: the loop goes on until it answers again or its process ends.
    """
    attempts = 0
    while not given_up():
        attempts += 1
        try:
            sink = await make()
        except AddressInUseError as exc:
            if attempts == 1 or attempts % 50 == 0:
                log.warning("no dispatcher to take over from yet: %s; still trying", exc)
        else:
            if not (isinstance(sink, Submitter) and (sink.orphaned or sink.leaving)):
                return sink
            await sink.stop()
        await asyncio.sleep(interval_s)
    return None


async def take_over(
    old: Submitter,
    make: Callable[[], Awaitable[Sink]],
    install: Callable[[Sink], None],
    given_up: Callable[[], bool],
    interval_s: float,
) -> None:
    """``old``'s dispatcher left: find the next sink (``next_sink``), move everything there."""
    new = await next_sink(make, interval_s, given_up)
    if new is None:
        return
    moved = move(old, new)
    install(new)
    await old.stop()
    if isinstance(new, Dispatcher):
        log.warning(
            "took over %s: this process is the dispatcher now (%d unfinished task(s) of this "
            "process moved to it; %s)",
            new.endpoint,
            moved,
            new.records.guarantee(),
        )
    else:
        log.warning("joined the next dispatcher at %s (%d task(s) resubmitted)", new.address, moved)


def move(old: Submitter, new: Sink) -> int:
    """Move everything ``old`` holds to ``new``: tasks, kicks on their way, waiting callers.

    Synchronous, so that no ``kiq()`` runs between the two: it reaches one of them.
    """
    tasks = old.surrender()
    new.admission.adopt(old.admission)
    new.adopt(tasks, old.take_handoff())
    return len(tasks)
