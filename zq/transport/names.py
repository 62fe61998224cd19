"""A dispatcher name that resolves to several addresses stands for several dispatchers.

``zq worker --connect tcp://dispatchers.internal:5555`` where that DNS name (a Kubernetes
headless service, a round-robin record) has an address per dispatcher: the worker joins each
of them, since ZeroMQ would connect to one. Resolved once, when the worker process starts.
"""

from __future__ import annotations

import logging
import socket

from zq.core.endpoints import named_host, spread

log = logging.getLogger("zq.executor")


def each_dispatcher(address: str) -> list[str]:
    """``address``, or one address per IP its host name resolves to (``core.endpoints``)."""
    named = named_host(address)
    if named is None:
        return [address]
    try:
        infos = socket.getaddrinfo(named[0], named[1], type=socket.SOCK_STREAM)
    except OSError:
        return [address]  # not resolvable now: ZeroMQ keeps trying the name itself
    addresses = spread(address, [str(info[4][0]) for info in infos])
    if len(addresses) > 1:
        log.info("%s resolves to %d addresses: joining each", address, len(addresses))
    return addresses
