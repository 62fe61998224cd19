"""A small LAN made of Linux network namespaces, for tests that cross a real network stack.

One namespace holds a bridge (the switch); each host is a namespace with one interface
(``eth0``, an address ``10.<net>.0.<n>/24``) cabled to a port of the switch by a veth pair.
Nothing is added to the root namespace: the addresses exist only inside the namespaces this
test bed made, and deleting them at the end (also when the test fails, also what an earlier
run left behind) removes every interface and route.

Faults, as this kernel allows them (it has no ``sch_netem``):

- ``cable(host, up)``: the switch port goes down (the host's interface loses its carrier).
- ``black_hole(a, b)``: each of the two hosts gets a permanent, bogus neighbour entry for the
  other, so their packets to each other go to a MAC nobody has and vanish without a reset.
- ``rate(host, ...)``: a token bucket (``tbf``) on the host's interface.
- delay, jitter, stalls and cuts: ``tests/lan/delay_proxy.py``, a userspace TCP proxy run
  inside a host (``spawn``).

It needs root and iproute2; ``available()`` says why not, for a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "zqlan"  # every namespace this makes: zqlan<pid>-<tag><n>


def available() -> str | None:
    """None if network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = subprocess.run(
        ["ip", "netns", "add", probe], check=False, capture_output=True, text=True
    )
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip`` (or, with ``args[0] == "tc"``, ``tc``); raise with its message on failure."""
    command = list(args) if args[0] == "tc" else ["ip", *args]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Host:
    """One namespace on the LAN."""

    name: str  # its namespace
    address: str  # its IPv4 address on the LAN
    port: str  # its port on the switch (in the switch's namespace)


class Lan:
    """``hosts`` namespaces on one switch; a context manager that removes them all."""

    def __init__(self, hosts: int, net: int = 77, tag: str = "") -> None:
        self.tag = f"{PREFIX}{os.getpid()}-{tag}"
        self.switch = f"{self.tag}sw"
        self.net = net
        self.hosts = [Host(f"{self.tag}h{n}", f"10.{net}.0.{n + 1}", f"p{n}") for n in range(hosts)]
        self.processes: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> Lan:
        remove_stale()
        try:
            ip("netns", "add", self.switch)
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            for host in self.hosts:
                ip("netns", "add", host.name)
                ip("-n", self.switch, "link", "add", host.port, "type", "veth",
                   "peer", "name", "eth0", "netns", host.name)  # fmt: skip
                ip("-n", self.switch, "link", "set", host.port, "master", "br0")
                ip("-n", self.switch, "link", "set", host.port, "up")
                ip("-n", host.name, "addr", "add", f"{host.address}/24", "dev", "eth0")
                ip("-n", host.name, "link", "set", "eth0", "up")
                ip("-n", host.name, "link", "set", "lo", "up")
                # multicast (mDNS discovery) goes out on the LAN: there is no default route
                ip("-n", host.name, "route", "add", "224.0.0.0/4", "dev", "eth0")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop what runs in the namespaces and delete them (idempotent)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        for name in [host.name for host in self.hosts] + [self.switch]:
            delete(name)

    def spawn(
        self, host: Host, argv: Sequence[str], env: dict[str, str] | None = None, **popen: Any
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` inside ``host``'s namespace (killed at the end, if still running)."""
        environment = {**os.environ, **(env or {})}
        process = subprocess.Popen(
            ["ip", "netns", "exec", host.name, *argv], env=environment, **popen
        )
        self.processes.append(process)
        return process

    def names(self, host: Host, entries: dict[str, list[Host]]) -> None:
        """What ``host`` resolves names to: its own /etc/hosts (``ip netns exec`` mounts it)."""
        folder = Path("/etc/netns") / host.name
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost"]
        lines += [f"{there.address} {name}" for name, hosts in entries.items() for there in hosts]
        (folder / "hosts").write_text("\n".join(lines) + "\n")

    def cable(self, host: Host, up: bool) -> None:
        """Plug (``up``) or pull ``host``'s cable at the switch."""
        ip("-n", self.switch, "link", "set", host.port, "up" if up else "down")

    def black_hole(self, a: Host, b: Host, on: bool = True) -> None:
        """Make packets between ``a`` and ``b`` vanish (or deliver them again)."""
        for here, there in ((a, b), (b, a)):
            if on:
                ip("-n", here.name, "neigh", "replace", there.address, "lladdr",
                   "02:00:00:00:00:01", "nud", "permanent", "dev", "eth0")  # fmt: skip
            else:
                ip("-n", here.name, "neigh", "del", there.address, "dev", "eth0", check=False)

    def rate(self, host: Host, rate: str | None) -> None:
        """A token bucket of ``rate`` (``"1mbit"``) on ``host``'s interface; None removes it."""
        if rate is None:
            ip("tc", "-n", host.name, "qdisc", "del", "dev", "eth0", "root", check=False)
        else:
            ip("tc", "-n", host.name, "qdisc", "replace", "dev", "eth0", "root", "tbf",
               "rate", rate, "burst", "32kbit", "latency", "400ms")  # fmt: skip


def delete(name: str) -> None:
    """Kill every process left in namespace ``name``, then delete it."""
    pids = ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    ip("netns", "del", name, check=False)
    shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)  # its /etc/hosts, if any


def remove_stale() -> None:
    """Delete namespaces an earlier test run left (its process is gone)."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            delete(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def lan(hosts: int, tag: str = "") -> Iterator[Lan]:
    """``with lan(4) as net:`` a LAN of four hosts, removed at the end."""
    with Lan(hosts, tag=tag) as made:
        yield made
