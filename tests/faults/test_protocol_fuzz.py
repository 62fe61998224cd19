"""Protocol fuzzing: hostile messages from raw sockets to a live dispatcher and a live executor.

Hypothesis generates every message kind, well-formed with hostile field values (huge and
negative numbers, wrong types, deep nesting, unknown names, garbage payloads and labels), and
malformed: truncated encodings, random bytes, bad signatures, wrong frame counts. A canary
workload runs through the same dispatcher and the same worker all along.

Bound: the canary never fails; the dispatcher stays alive; the worker's executor process is
the same one at the end (nothing killed it). About a minute in all.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults import app
from tests.faults.conftest import APP, Worker
from tests.integration.conftest import free_address
from zq import ZeroMQBroker
from zq.core.messages import (
    PROTOCOL_VERSION,
    SIGNATURE,
    Ack,
    Assign,
    Busy,
    Bye,
    Credit,
    ErrorInfo,
    Farewell,
    Fetch,
    Forward,
    Heartbeat,
    Hello,
    Progress,
    Refuse,
    Rejoin,
    ResultMsg,
    Results,
    Submit,
    TaskMsg,
    Welcome,
)

CANARY = "work"  # the canary's task name: no fuzzed Hello may register it
EXAMPLES = 600  # per target: about 8 s each here (1,000 took 13-15 s: the suite's time)

ints = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, -(2**63)]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=64),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=24,
)
names = st.text(max_size=30).filter(lambda n: n != CANARY)
label_keys = st.sampled_from(
    ["delay", "timeout", "max_deliveries", "ack_type", "priority", "schedule_id", "queue", "x"]
)
labels = st.dictionaries(label_keys, values, max_size=4)
ids = st.text(max_size=40)
tasks = st.builds(
    TaskMsg,
    ids,
    st.one_of(names, st.just("noop")),
    st.binary(max_size=64),
    labels,
    st.text(max_size=10),
    ints.filter(lambda i: -(2**63) <= i < 2**63),
)
errors = st.builds(
    ErrorInfo, st.text(max_size=20), st.text(max_size=20), st.text(max_size=40), st.lists(values)
)
results = st.builds(
    ResultMsg,
    ids,
    st.booleans(),
    st.binary(max_size=64),
    st.floats(allow_nan=True),
    labels,
    st.none() | errors,
)
small = ints.filter(lambda i: -(2**63) <= i < 2**63)
typed = st.one_of(
    st.builds(
        Hello,
        st.sampled_from(["executor", "producer", "superuser", ""]),
        st.sampled_from([PROTOCOL_VERSION, 0, 99]),
        ids,
        small,
        st.text(max_size=20),
        st.lists(names, max_size=3),
        st.lists(st.text(max_size=5), max_size=2),
        small,
    ),
    st.builds(Welcome, ids, st.floats(allow_nan=True)),
    st.builds(Refuse, st.text(max_size=40)),
    st.builds(Rejoin, ids),
    st.builds(Credit, small),
    st.builds(Assign, st.lists(tasks, max_size=3), small),
    st.builds(Results, st.lists(results, max_size=3), small, st.booleans()),
    st.builds(Heartbeat, small),
    st.builds(Bye, st.lists(ids, max_size=3), st.lists(ids, max_size=3)),
    st.just(Farewell()),
    st.builds(Submit, st.lists(tasks, max_size=3)),
    st.builds(
        Forward,
        st.lists(results, max_size=3),
        st.lists(st.tuples(ids, st.binary(max_size=16)), max_size=2),
        st.lists(ids, max_size=2),
    ),
    st.builds(Ack, st.lists(ids, max_size=3)),
    st.builds(Progress, st.lists(st.tuples(ids, st.binary(max_size=16)), max_size=3)),
    st.builds(Fetch, st.lists(ids, max_size=3)),
    st.builds(Busy, st.lists(tasks, max_size=3)),
)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
TAGS = ["hello", "welcome", "refuse", "rejoin", "credit", "assign", "results", "hb", "bye"]
TAGS += ["farewell", "submit", "forward", "cancel", "ack", "progress", "fetch", "busy", "nope"]


@st.composite
def bodies(draw: st.DrawFn) -> list[bytes]:
    """The frames of one hostile message (after any routing id)."""
    kind = draw(st.integers(0, 5))
    encode = msgspec.msgpack.encode
    if kind == 0:  # well-formed, hostile values
        return [SIGNATURE, encode(draw(typed))]
    if kind == 1:  # a known tag with fields of any type
        return [
            SIGNATURE,
            encode([draw(st.sampled_from(TAGS)), *draw(st.lists(values, max_size=8))]),
        ]
    if kind == 2:  # truncated
        body = encode(draw(typed))
        return [SIGNATURE, body[: draw(st.integers(0, max(0, len(body) - 1)))]]
    if kind == 3:  # deep nesting where a field is Any
        depth = draw(st.sampled_from([40, 1_000, 100_000]))
        nested = msgspec.Raw(b"\x91" * depth + b"\xc0")
        return [SIGNATURE, encode(["submit", [["deep", "noop", b"", {"x": nested}]]])]
    if kind == 4:  # random bytes, any signature
        return [draw(st.binary(max_size=4)), draw(st.binary(max_size=200))]
    frames = draw(st.lists(st.binary(max_size=20), min_size=1, max_size=5))  # wrong frame counts
    return frames if len(frames) != 2 else [*frames, b""]


def refuses(frames: list[bytes]) -> bool:
    """Whether ``frames`` is a ``Refuse``, or another protocol version: both end a worker."""
    signature = frames[0]
    if (
        len(frames) == 2
        and signature[:2] == b"ZQ"
        and len(signature) == 3
        and signature != SIGNATURE
    ):
        return True
    if len(frames) != 2 or frames[0] != SIGNATURE:
        return False
    try:
        body = msgspec.msgpack.decode(frames[1])
    except (msgspec.DecodeError, RecursionError):
        return False
    return isinstance(body, list) and bool(body) and body[0] == "refuse"


class Target:
    """A dispatcher on a loop of its own (the test drives it from this thread), one worker."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "log"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
        self.call(self.broker.startup())
        self.canaries = 0
        self.worker_pids: set[int] = set()  # the real worker's executor, once it joined

    def call(self, coro: Any, timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def canary(self) -> None:
        """One task through the dispatcher and the worker; it must succeed."""

        async def run() -> Any:
            kicker = app.work.kicker().with_broker(self.broker)
            task = await kicker.kiq(f"c{self.canaries}", str(self.log))
            return await task.wait_result(timeout=20)

        result = self.call(run())
        assert not result.is_err, result.error
        assert result.return_value == f"c{self.canaries}"
        self.canaries += 1

    def executor_pids(self) -> set[int]:
        stats = self.call(self.broker.stats())
        return {info.pid for info in stats["executors"].values()}

    def close(self) -> None:
        self.call(self.broker.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


Fixture = tuple["Target", zmq.Socket[bytes], bytes, Worker]


@pytest.fixture(scope="module")
def target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Target, zmq.Socket[bytes], bytes, Worker]]:
    target = Target(tmp_path_factory.mktemp("fuzz"))
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    # The worker also connects to this ROUTER, as to a second dispatcher: the fuzzer's.
    fake = ctx.socket(zmq.ROUTER)
    fake.setsockopt(zmq.LINGER, 0)
    fake.setsockopt(zmq.ROUTER_MANDATORY, 0)
    fake_address = free_address()
    fake.bind(fake_address)
    worker = Worker(target.broker.endpoint, "-w", "1", "--connect", fake_address, app=APP)
    try:
        fake.setsockopt(zmq.RCVTIMEO, 30_000)
        routing_id = fake.recv_multipart()[0]  # the executor's first hello to the fuzzer
        target.call(target.broker.wait_workers(1))
        target.worker_pids = target.executor_pids()
        yield target, fake, routing_id, worker
    finally:
        worker.stop()
        fake.close()
        ctx.term()
        target.close()


@given(frames=st.lists(bodies(), min_size=1, max_size=5))
@FUZZ
def test_hostile_messages_to_a_dispatcher_leave_it_serving(
    target: Fixture, frames: list[list[bytes]]
) -> None:
    service, _, _, _ = target
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(service.broker.endpoint)
    try:
        for message in frames:
            sock.send_multipart(message)
        service.canary()
    finally:
        sock.close()
    assert service.broker.dispatcher is not None and service.broker.dispatcher.alive


@given(frames=st.lists(bodies(), min_size=1, max_size=5))
@FUZZ
def test_hostile_messages_to_an_executor_leave_it_working(
    target: Fixture, frames: list[list[bytes]]
) -> None:
    service, fake, routing_id, worker = target
    for message in frames:
        if refuses(message):
            continue  # these end the worker on purpose (exit 2: a wrong key or version)
        fake.send_multipart([routing_id, *message])
    while fake.poll(0):  # what the executor answers the fuzzer: read and dropped
        fake.recv_multipart()
    service.canary()
    assert worker.process.poll() is None
    # The same executor process: nothing killed it. (Sessions the dispatcher fuzz registered
    # with a forged Hello come and go beside it: they are not this worker.)
    assert service.worker_pids and service.worker_pids <= service.executor_pids()
