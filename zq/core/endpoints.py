"""Dispatcher addresses: checked where they are given, so a typo fails at once with the fix.

Pure: no sockets. ZeroMQ itself answers a bad address with "Invalid argument", or not at all
(a missing scheme, ``http://``): a worker would then wait in silence.
"""

from __future__ import annotations

SCHEMES = ("tcp", "ipc")


def check_endpoint(address: str, *, bind: bool = False) -> str:
    """Return ``address`` if a zq peer can use it, else raise ``ValueError`` saying why.

    ``tcp://HOST:PORT`` (``PORT`` may be ``*`` to bind a free port) or ``ipc://PATH``.
    """
    if not isinstance(address, str) or not address:
        raise ValueError(f"{address!r} is not an address: use tcp://HOST:PORT or ipc://PATH")
    scheme, sep, rest = address.partition("://")
    if not sep:
        raise ValueError(
            f"{address!r} has no scheme: did you mean tcp://{address}? "
            "(zq addresses are tcp://HOST:PORT or ipc://PATH)"
        )
    if scheme not in SCHEMES:
        raise ValueError(
            f"{address!r}: zq speaks ZeroMQ, not {scheme}: use tcp://HOST:PORT or ipc://PATH"
        )
    if scheme == "ipc":
        if not rest:
            raise ValueError(f"{address!r} names no path: use ipc://PATH")
        return address
    host, colon, port = rest.rpartition(":")
    if not colon or not host:
        raise ValueError(f"{address!r} has no port: use tcp://HOST:PORT")
    if port == "*" and bind:
        return address
    if not port.isdigit() or not 0 < int(port) < 65536:
        free = " (or * to bind a free one)" if bind else ""
        raise ValueError(f"{address!r}: the port must be a number from 1 to 65535{free}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{address!r}: an IPv6 host goes in brackets, e.g. tcp://[::1]:5555")
    return address


def named_host(address: str) -> tuple[str, int] | None:
    """``(name, port)`` of a ``tcp://NAME:PORT`` address whose host is a name, else None."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit() or not host or host.startswith("["):
        return None
    if host.replace(".", "").isdigit() or host in ("*", "localhost"):
        return None  # an IPv4 address, a wildcard, or this host (not spread over ::1)
    return host, int(port)


def spread(address: str, found: list[str]) -> list[str]:
    """``address`` (``tcp://NAME:PORT``) as one address per IP its name resolved to.

    ``found`` are the resolver's answers in its order: the IPv4 ones if there are any (a host
    with both an A and an AAAA record is one dispatcher, not two), else the IPv6 ones; each
    once. Nothing found: ``address`` as it is (ZeroMQ resolves it again, and retries).
    """
    named = named_host(address)
    if named is None:
        return [address]
    v4 = [ip for ip in found if ":" not in ip]
    chosen = list(dict.fromkeys(v4 or found))
    if len(chosen) < 2:
        return [address]  # one address: ZeroMQ follows the name itself
    port = named[1]
    return [f"tcp://{ip}:{port}" if ":" not in ip else f"tcp://[{ip}]:{port}" for ip in chosen]
