"""Discovery's parts that need no network: names, announcements read, keys compared."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from zq import ZeroMQBroker
from zq.brokers.lan import caller_module
from zq.core.messages import PROTOCOL_VERSION
from zq.exceptions import DiscoveryError
from zq.transport import discovery
from zq.transport.discovery import Announcer, Browser


def info(app: str, *, proto: int = PROTOCOL_VERSION, key: str = "", ips: Any = None) -> Any:
    """What python-zeroconf's ServiceInfo gives for an announcement (its TXT as bytes)."""
    props = {b"app": app.encode(), b"proto": str(proto).encode(), b"key": key.encode()}
    return SimpleNamespace(
        properties=props, port=5555, parsed_addresses=lambda: ips or ["10.0.0.7", "fe80::1"]
    )


def test_a_broker_s_app_name_is_the_module_that_made_it_unless_given() -> None:
    assert ZeroMQBroker().app_name == __name__
    assert ZeroMQBroker(app_name="orders").app_name == "orders"
    assert caller_module(None) == "zq"


def test_an_announcement_of_the_app_is_read_with_its_ipv4_address_and_key() -> None:
    found = discovery._read(info("shop.tasks", key="K" * 40), "shop.tasks")
    assert found == discovery.Found("tcp://10.0.0.7:5555", "K" * 40, PROTOCOL_VERSION)
    assert discovery._read(info("other.app"), "shop.tasks") is None
    assert discovery._read(info("shop.tasks", ips=["fe80::1"]), "shop.tasks") is None
    # another protocol version: skipped (it could not talk to us anyway)
    assert discovery._read(info("shop.tasks", proto=PROTOCOL_VERSION - 1), "shop.tasks") is None


async def test_a_browser_skips_an_announcement_whose_key_it_does_not_trust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    announced = {"real": info("app", key="R" * 40), "fake": info("app", key="F" * 40)}

    class Lookup:  # AsyncServiceInfo, answered from ``announced``
        def __init__(self, _type: str, name: str) -> None:
            self.name = name

        async def async_request(self, _zc: object, _ms: int) -> bool:
            return True

        def __getattr__(self, attr: str) -> Any:
            return getattr(announced[self.name], attr)

    fake_module = SimpleNamespace(asyncio=SimpleNamespace(AsyncServiceInfo=Lookup))
    monkeypatch.setattr(discovery, "_zeroconf", lambda: fake_module)
    changes: list[list[str]] = []
    browser = Browser("app", key="R" * 40, on_change=lambda: changes.append([]))
    for name in announced:
        await browser._look_up(None, discovery.SERVICE, name)
    assert list(browser.found) == ["real"] and len(changes) == 1


def test_only_a_tcp_dispatcher_can_be_announced() -> None:
    with pytest.raises(DiscoveryError, match="only a tcp://"):
        Announcer("app", "ipc:///tmp/zq.sock")
    assert Announcer("app", "tcp://10.1.2.3:5555").addresses == ["10.1.2.3"]


def test_without_python_zeroconf_announce_fails_where_it_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "zeroconf", None)
    monkeypatch.setitem(sys.modules, "zeroconf.asyncio", None)
    with pytest.raises(DiscoveryError, match=r"pip install 'zq\[discovery\]'"):
        ZeroMQBroker(announce=True)
    ZeroMQBroker()  # without discovery, nothing needs it


def test_zq_scheduler_discover_makes_the_scheduler_s_broker_join_what_it_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zq.cli.scheduler import _load_scheduler

    monkeypatch.setenv("ZQ_TEST_LOG", "/dev/null")
    options = {"app_dir": None, "modules": (), "fs_discover": False, "tasks_pattern": ()}
    spec = "tests.integration.sched_app:labels"
    scheduler = _load_scheduler({**options, "scheduler_spec": spec, "discover": True})
    broker = scheduler.broker
    assert isinstance(broker, ZeroMQBroker)
    try:
        assert broker.discover and broker.app_name == "tests.integration.sched_app"
    finally:
        broker.discover = False  # the module's broker, which other tests use
