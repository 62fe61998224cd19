"""The wire protocol: every message zq peers exchange, as one tagged union of msgspec Structs.

Rules (changing them changes the protocol version):

1. A message on the wire is two frames after any ROUTER routing id: ``SIGNATURE`` then the
   msgpack body. The signature is ``b"ZQ"`` plus one version byte, so a peer of another
   version is recognised before its body is decoded.
2. Bodies are ``array_like`` Structs tagged by a short string; new fields are only ever
   appended, with defaults.
3. The task payload (args and kwargs, encoded by the producer's serializer) is opaque bytes:
   the dispatcher routes it without decoding it.
4. Tasks and results travel in batches (``Assign``, ``Results``, ``Submit``, ``Forward``), so
   the per-message cost is paid per batch under load; a lone task is a batch of one.

This module is pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

PROTOCOL_VERSION = 5  # 2: Busy, Forward.expired; 3: Cancel, Cancelled; 4: observers; 5: streams
SIGNATURE = b"ZQ" + bytes([PROTOCOL_VERSION])
SIGNATURE_PREFIX = b"ZQ"

ROLE_EXECUTOR = "executor"
ROLE_PRODUCER = "producer"
ROLE_OBSERVER = "observer"  # reads the dispatcher's state (``Query``); runs and submits nothing


class ErrorInfo(msgspec.Struct, array_like=True, gc=False):
    """An exception raised by a task, in a form any peer can decode without importing anything.

    ``args`` and ``attrs`` hold the values that msgpack can carry; others are replaced by their
    ``repr``. The client rebuilds the exception from ``module`` and ``qualname`` only if that
    class is already imported there (see ``zq.core.remote_errors``).
    """

    module: str
    qualname: str
    message: str
    args: list[Any] = []
    attrs: dict[str, Any] = {}
    traceback: str = ""


class TaskMsg(msgspec.Struct, array_like=True, gc=False):
    """One task: what the producer kicked, as it travels to an executor."""

    task_id: str
    task_name: str
    payload: bytes
    labels: dict[str, Any] = {}
    queue: str = "default"
    attempt: int = 0


class ResultMsg(msgspec.Struct, array_like=True, gc=False):
    """The outcome of one task: an encoded return value, or an error."""

    task_id: str
    is_err: bool
    payload: bytes
    execution_time: float
    labels: dict[str, Any] = {}
    error: ErrorInfo | None = None
    log: str | None = None
    run: int = 0  # this execution's number, unique to it (see zq.core.executions); 0: not known


class Hello(msgspec.Struct, tag="hello", array_like=True):
    """First message of a session: who the peer is and what it can run."""

    role: str
    version: int
    session: str
    pid: int
    hostname: str
    tasks: list[str] = []
    queues: list[str] = []
    credit: int = 0


class Welcome(msgspec.Struct, tag="welcome", array_like=True):
    """The dispatcher's answer to ``Hello``: the session is registered."""

    incarnation: str
    heartbeat_s: float


class Refuse(msgspec.Struct, tag="refuse", array_like=True):
    """The dispatcher will not talk to this peer; ``reason`` says why."""

    reason: str


class Rejoin(msgspec.Struct, tag="rejoin", array_like=True):
    """The dispatcher does not know this session (it restarted): say ``Hello`` again."""

    incarnation: str


class Credit(msgspec.Struct, tag="credit", array_like=True):
    """The executor grants this many more task slots."""

    amount: int


class Assign(msgspec.Struct, tag="assign", array_like=True):
    """Tasks sent to an executor, within its credit.

    ``acked``: how many results the dispatcher has received from this session so far; the
    executor may forget those (it keeps the others, to send again on a new session).
    """

    tasks: list[TaskMsg]
    acked: int = 0


class Results(msgspec.Struct, tag="results", array_like=True):
    """Results from an executor; ``credit`` slots are handed back with them."""

    results: list[ResultMsg]
    credit: int = 0
    resent: bool = False  # sent before on a session that ended: maybe received, maybe not


class Heartbeat(msgspec.Struct, tag="hb", array_like=True):
    """Sent by either side when it has had nothing else to say for a while.

    From the dispatcher to an executor, ``acked`` is as in ``Assign``.
    """

    acked: int = 0


class Bye(msgspec.Struct, tag="bye", array_like=True):
    """The peer is leaving; ``returned`` are tasks it received and did not start.

    ``cancelled`` are tasks it started and cancelled (a forced shutdown): they run again
    elsewhere, and that delivery counts towards their limit.
    """

    returned: list[str] = []
    cancelled: list[str] = []


class Farewell(msgspec.Struct, tag="farewell", array_like=True):
    """The dispatcher's answer to a ``Bye``: it sends that executor no more tasks.

    Pipes keep their order, so whatever the dispatcher assigned before it read the ``Bye``
    has reached the executor before this, and everything the executor sent before its
    ``Bye`` has reached the dispatcher: a draining executor closes only after the answer to
    its last ``Bye``, and nothing crossing it is left to the liveness timeout.
    """


class Submit(msgspec.Struct, tag="submit", array_like=True):
    """Tasks from a producer that joined the dispatcher over the network."""

    tasks: list[TaskMsg]


class Resubmit(msgspec.Struct, tag="resubmit", array_like=True):
    """Tasks a joined producer submits again: it has no result for them yet.

    Its session dropped, or the address was taken over by another process. A task whose
    result the dispatcher already has is not run again: its result is sent.
    """

    tasks: list[TaskMsg]


class Busy(msgspec.Struct, tag="busy", array_like=True):
    """The dispatcher holds ``max_pending`` tasks: these submitted ones were not taken.

    The peer keeps them and submits them again a moment later (backpressure across the
    network; a joined producer's own bound then makes its ``kiq()`` wait).
    """

    tasks: list[TaskMsg]


class Leaving(msgspec.Struct, tag="leaving", array_like=True):
    """The dispatcher is shutting down: a joined producer holds its new tasks and takes over.

    Sent to joined producers when the binding process begins its graceful stop (it drains
    what it accepted, and hands new submissions back as ``Busy``). A producer that gets it
    keeps its unfinished tasks and tries to bind the address as soon as it is free
    (``zq.brokers.takeover``); whoever binds first is the next incarnation.
    """

    incarnation: str


class Taken(msgspec.Struct, tag="taken", array_like=True):
    """These tasks a joined producer submitted are on the dispatcher's disk (its journal).

    The producer still keeps them until their results arrive (to submit them again to a
    dispatcher without that journal), but a producer that stops need not wait for them.
    """

    task_ids: list[str]


class Copy(msgspec.Struct, tag="copy", array_like=True):
    """Tasks only the dispatcher's process holds, for its standby to hold too.

    ``fresh``: the whole copy (a new standby): what the standby held before is replaced. The
    standby answers ``Copied(seq)`` once it holds them.
    """

    seq: int
    tasks: list[TaskMsg]
    fresh: bool = False


class Copied(msgspec.Struct, tag="copied", array_like=True):
    """The standby holds every ``Copy`` up to ``seq``."""

    seq: int


class Drop(msgspec.Struct, tag="drop", array_like=True):
    """These copied tasks finished: the standby forgets them."""

    task_ids: list[str]


class Handoff(msgspec.Struct, tag="handoff", array_like=True):
    """What a dispatcher that stops gracefully hands its standby besides the tasks.

    Its dead letters (``(reason, origin, task)``) and the scheduled runs it has seen (their
    ids). The standby gives them to the next dispatcher: its own, or the one it joins (then it sends
    this message on).
    """

    dead: list[tuple[str, bytes | None, TaskMsg]]
    runs: list[str]


class Forward(msgspec.Struct, tag="forward", array_like=True, omit_defaults=True):
    """Results (and progress reports) for the peer that submitted or fetched those tasks.

    ``expired`` are fetched tasks that are neither running nor have a result any more.
    """

    results: list[ResultMsg]
    progress: list[tuple[str, bytes]] = []
    expired: list[str] = []
    items: list[tuple[str, int, bytes]] = []  # streamed items, as in ``Items``


class Items(msgspec.Struct, tag="items", array_like=True):
    """Items generator tasks yielded: ``(task_id, sequence number, encoded item)`` triples.

    From the executor running the task to the dispatcher, which forwards them to the task's
    submitter and watchers (``Forward.items``); see ``zq.core.streams``.
    """

    items: list[tuple[str, int, bytes]]


class Read(msgspec.Struct, tag="read", array_like=True):
    """How far the readers of these streams have got: ``(task_id, items taken)`` pairs.

    From the reader's process to the dispatcher, which passes it to the executor running the
    task: that frees room in the task's window (``zq.core.streams``).
    """

    acks: list[tuple[str, int]]


class Ack(msgspec.Struct, tag="ack", array_like=True):
    """The executor ends these leases early: the tasks must not be delivered again."""

    task_ids: list[str]


class Progress(msgspec.Struct, tag="progress", array_like=True):
    """Progress reports of running tasks: ``(task_id, encoded TaskProgress)`` pairs."""

    items: list[tuple[str, bytes]]


class Fetch(msgspec.Struct, tag="fetch", array_like=True):
    """A peer asks for the results (and progress) of tasks it did not submit."""

    task_ids: list[str]


class Cancel(msgspec.Struct, tag="cancel", array_like=True):
    """Cancel these tasks.

    From a producer (or a task on a worker) to the dispatcher, which answers ``Cancelled`` with
    the same ``ref``; from the dispatcher to the executor running them (``ref`` 0, no answer):
    it stops them and sends their results (``TaskCancelledError``) as usual.
    """

    task_ids: list[str]
    ref: int = 0


CancelOutcome = Literal["cancelled", "cancelling", "finished", "unknown"]


class Cancelled(msgspec.Struct, tag="cancelled", array_like=True):
    """The dispatcher's answer to a ``Cancel``: one outcome per task id, in order.

    ``"cancelled"``: it had not started and never will; ``"cancelling"``: it is running and its
    executor was told to stop it; ``"finished"``: it had ended already; ``"unknown"``: no task
    of that id is here, and no result.
    """

    ref: int
    outcomes: list[CancelOutcome]


class Query(msgspec.Struct, tag="query", array_like=True):
    """Ask the dispatcher about its state, or to act on it (``zq.actors.inspection``).

    ``what`` names the question (``"status"``, ``"task"``, ``"tasks"``, ``"dead_letters"``)
    or the action (``"replay"``, ``"purge"``); ``args`` its arguments. The dispatcher answers
    ``Answer`` with the same ``ref``.
    """

    ref: int
    what: str
    args: dict[str, Any] = {}


class Answer(msgspec.Struct, tag="answer", array_like=True):
    """The dispatcher's answer to a ``Query``: plain msgpack values, or ``error``."""

    ref: int
    body: Any = None
    error: str = ""


Message = (
    Hello
    | Welcome
    | Refuse
    | Rejoin
    | Credit
    | Assign
    | Results
    | Heartbeat
    | Bye
    | Farewell
    | Submit
    | Resubmit
    | Forward
    | Ack
    | Progress
    | Fetch
    | Busy
    | Leaving
    | Taken
    | Copy
    | Copied
    | Drop
    | Handoff
    | Cancel
    | Cancelled
    | Query
    | Answer
    | Items
    | Read
)
