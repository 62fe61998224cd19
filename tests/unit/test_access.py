"""Who may reach a dispatcher and what each key may say: the pure decisions."""

import pytest

from zq.core.access import (
    KEY_OBSERVER,
    KEY_PRODUCER,
    KEY_WORKER,
    ZAP_DOMAIN,
    is_loopback,
    permits,
    zap_answer,
)
from zq.core.messages import (
    Ack,
    Bye,
    Cancel,
    Credit,
    Fetch,
    Heartbeat,
    Hello,
    Message,
    Progress,
    Query,
    ResultMsg,
    Results,
    Submit,
)


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://127.0.0.1:5555",
        "tcp://127.8.9.10:*",
        "tcp://localhost:5555",
        "tcp://lo:5555",
        "tcp://[::1]:5555",
        "ipc:///tmp/zq.sock",
        "inproc://zq",
    ],
)
def test_loopback_and_local_endpoints(endpoint: str) -> None:
    assert is_loopback(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://*:5555",
        "tcp://0.0.0.0:5555",
        "tcp://[::]:5555",
        "tcp://192.168.1.20:5555",
        "tcp://eth0:5555",
        "tcp://worker-host:5555",
        "ws://127.0.0.1:5555",
        "127.0.0.1:5555",
    ],
)
def test_anything_else_is_taken_as_reachable_from_the_network(endpoint: str) -> None:
    assert not is_loopback(endpoint)


RESULT = Results([ResultMsg("t", False, b"", 0.0)], 1)
WORKER_ONLY: list[Message] = [
    Hello("executor", 1, "s", 1, "h"),
    Credit(5),
    RESULT,
    Ack(["t"]),
    Progress([("t", b"")]),
    Bye(returned=["t"]),
    Bye(cancelled=["t"]),
]
ANYONE: list[Message] = [
    Hello("producer", 1, "s", 1, "h"),
    Submit([]),
    Fetch(["t"]),
    Heartbeat(),
    Bye(),
]


@pytest.mark.parametrize("message", WORKER_ONLY + ANYONE)
def test_a_worker_key_may_send_everything(message: Message) -> None:
    assert permits(KEY_WORKER, message)


@pytest.mark.parametrize("message", WORKER_ONLY)
def test_a_producer_key_may_not_take_tasks_or_post_results(message: Message) -> None:
    assert not permits(KEY_PRODUCER, message)


@pytest.mark.parametrize("message", ANYONE)
def test_a_producer_key_may_submit_fetch_and_cancel(message: Message) -> None:
    assert permits(KEY_PRODUCER, message)


@pytest.mark.parametrize("role", ["", "admin", "Worker"])
def test_an_unknown_role_may_send_nothing(role: str) -> None:
    assert not any(permits(role, m) for m in WORKER_ONLY + ANYONE)


KEY = bytes(range(32))


def request(domain: bytes = ZAP_DOMAIN, mechanism: bytes = b"CURVE", *creds: bytes) -> list[bytes]:
    return [b"1.0", b"7", domain, b"10.0.0.5", b"", mechanism, *(creds or (KEY,))]


def test_zap_names_an_allowed_keys_role_as_its_user_id() -> None:
    assert zap_answer(request(), {KEY: KEY_PRODUCER}) == [
        b"1.0",
        b"7",
        b"200",
        b"OK",
        b"producer",
        b"",
    ]


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        (request(), b"key not allowed"),
        (request(b"other"), b"unknown ZAP domain"),
        (request(b""), b"unknown ZAP domain"),
        (request(ZAP_DOMAIN, b"NULL"), b"CURVE required"),
        (request(ZAP_DOMAIN, b"PLAIN", b"user", b"password"), b"CURVE required"),
        ([b"2.0", b"7", ZAP_DOMAIN, b"", b"", b"CURVE", KEY], b"malformed ZAP request"),
        ([b"1.0", b"7"], b"malformed ZAP request"),
    ],
)
def test_zap_refuses_everything_else(frames: list[bytes], why: bytes) -> None:
    reply = zap_answer(frames, {bytes(32): KEY_WORKER})
    assert reply[2] == b"400" and reply[3] == why and reply[4] == b""
    assert reply[1] == b"7"  # libzmq matches the reply to its request by this id


def test_an_unknown_session_is_told_to_rejoin_and_its_work_still_counts() -> None:
    from zq.core.access import Unknown, unknown_session
    from zq.core.messages import Ack, Bye, Credit, Fetch, Heartbeat, Results, Submit

    assert unknown_session(Submit([])) is Unknown.REJOIN
    assert unknown_session(Results([], 0)) is Unknown.REJOIN
    assert unknown_session(Fetch(["t"])) is Unknown.REJOIN_ONLY
    assert unknown_session(Credit(1)) is Unknown.REJOIN_ONLY
    assert unknown_session(Heartbeat()) is Unknown.REJOIN_ONLY
    assert unknown_session(Ack(["t"])) is Unknown.HANDLE
    assert unknown_session(Bye([], [])) is Unknown.HANDLE


READS: list[Message] = [
    Hello("observer", 1, "s", 1, "h"),
    Query(1, "status"),
    Query(2, "task", {"id": "t"}),
    Query(3, "tasks"),
    Query(4, "dead_letters"),
    Heartbeat(),
    Bye(),
]
WRITES: list[Message] = [Query(5, "replay"), Query(6, "purge", {"ids": ["t"]}), Cancel(["t"])]


@pytest.mark.parametrize("message", READS)
def test_an_observer_key_may_read(message: Message) -> None:
    assert permits(KEY_OBSERVER, message)
    assert permits(KEY_PRODUCER, message) and permits(KEY_WORKER, message)


@pytest.mark.parametrize(
    "message", WRITES + WORKER_ONLY + [Submit([]), Fetch(["t"]), Hello("producer", 1, "s", 1, "h")]
)
def test_an_observer_key_may_not_act_submit_or_run(message: Message) -> None:
    assert not permits(KEY_OBSERVER, message)


@pytest.mark.parametrize("message", WRITES)
def test_acting_on_the_dispatcher_takes_a_producer_or_worker_key(message: Message) -> None:
    assert permits(KEY_PRODUCER, message) and permits(KEY_WORKER, message)
