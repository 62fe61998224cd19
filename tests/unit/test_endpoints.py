"""Addresses are checked where they are given (pure)."""

from __future__ import annotations

import pytest

from zq.core.endpoints import check_endpoint, named_host, spread


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:5555", "tcp://[::1]:1", "tcp://host.lan:65535", "ipc:///tmp/zq"]
)
def test_good_addresses_pass(address: str) -> None:
    assert check_endpoint(address) == address


def test_a_free_port_is_for_binding_only() -> None:
    assert check_endpoint("tcp://127.0.0.1:*", bind=True) == "tcp://127.0.0.1:*"
    with pytest.raises(ValueError, match="from 1 to 65535"):
        check_endpoint("tcp://127.0.0.1:*")


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("", "not an address"),
        ("127.0.0.1:5555", "did you mean tcp://127.0.0.1:5555"),
        ("http://example:80", "not http"),
        ("inproc://zq", "not inproc"),
        ("tcp://:5555", "has no port"),
        ("tcp://host", "has no port"),
        ("tcp://host:0", "from 1 to 65535"),
        ("tcp://host:port", "from 1 to 65535"),
        ("tcp://[::1:5555", "brackets"),
        ("ipc://", "names no path"),
    ],
)
def test_bad_addresses_say_what_to_write(address: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("[", r"\[").replace(".", r"\.")):
        check_endpoint(address)


def test_a_name_with_several_addresses_is_one_dispatcher_per_address() -> None:
    name = "tcp://dispatchers.internal:5555"
    assert spread(name, ["10.0.0.1", "10.0.0.2", "10.0.0.1"]) == [
        "tcp://10.0.0.1:5555",
        "tcp://10.0.0.2:5555",
    ]
    assert spread(name, ["10.0.0.1", "fd00::1"]) == [name]  # A and AAAA: one host
    assert spread(name, ["fd00::1", "fd00::2"]) == ["tcp://[fd00::1]:5555", "tcp://[fd00::2]:5555"]
    assert spread(name, []) == [name]  # unresolvable now: ZeroMQ keeps trying the name
    for kept in ("tcp://10.0.0.1:5555", "tcp://[::1]:5555", "tcp://localhost:5555", "ipc:///x"):
        assert named_host(kept) is None and spread(kept, ["10.0.0.9", "10.0.0.8"]) == [kept]
