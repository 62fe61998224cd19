"""Who may reach a dispatcher and what each peer may say: the decisions, without the sockets.

- **Endpoints**: whether a bind address is reachable only from this host.
- **Roles**: a CURVE key is allowed as a *worker* (it may take tasks and post results, and
  submit too: tasks kick tasks), as a *producer* only (it may submit tasks, fetch their
  results, cancel, and act on the dispatcher's records: replay or purge dead letters), or as
  an *observer* (it may only read: ``zq status``, task history, the dashboard's pages).
  The ZAP handler names the role as the connection's User-Id, and
  libzmq stamps it on every message of that connection, so the dispatcher checks each message
  against the key that sent it.
- **ZAP** (ZeroMQ RFC 27): the answer to one authentication request.
- **Unknown sessions**: what a dispatcher does with a message from a session it does not
  know (it restarted, or declared the peer lost): see ``unknown_session``.

Pure: no sockets, no asyncio, no clock.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping

from zq.core.messages import (
    ROLE_OBSERVER,
    ROLE_PRODUCER,
    Bye,
    Cancel,
    Copied,
    Credit,
    Fetch,
    Handoff,
    Heartbeat,
    Hello,
    Message,
    Query,
    Read,
    Resubmit,
    Results,
    Submit,
)

KEY_WORKER = "worker"  # the ZAP User-Id of a key allowed to take tasks (and to submit)
KEY_PRODUCER = "producer"  # the ZAP User-Id of a key allowed only to submit
KEY_OBSERVER = "observer"  # the ZAP User-Id of a key allowed only to read (Query)
READ_QUERIES = frozenset({"status", "subscribe", "task", "tasks", "dead_letters"})  # or writes
ZAP_DOMAIN = b"zq"  # set on every CURVE server socket and enforced (fail closed)
ZAP_VERSION = b"1.0"

_SUBMITTER_MESSAGES = frozenset(
    {Submit, Resubmit, Fetch, Heartbeat, Bye, Copied, Handoff, Cancel, Query, Read}
)


def is_loopback(endpoint: str) -> bool:
    """Whether binding ``endpoint`` is reachable only from this host.

    ``ipc://`` and ``inproc://`` are; ``tcp://`` is when its host is a loopback address,
    ``localhost`` or the ``lo`` interface. Anything else (``*``, ``0.0.0.0``, another
    interface, a host name, another transport) is taken to be reachable from the network.
    """
    transport, sep, rest = endpoint.partition("://")
    if not sep:
        return False
    if transport in ("ipc", "inproc"):
        return True
    if transport != "tcp":
        return False
    host = rest.rpartition(":")[0]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def permits(role: str, message: Message) -> bool:
    """Whether a peer whose key has ``role`` may send ``message`` to the dispatcher."""
    if role == KEY_WORKER:
        return True
    if role == KEY_OBSERVER:
        return observes(message)
    if role != KEY_PRODUCER:
        return False
    if isinstance(message, Hello):
        return message.role in (ROLE_PRODUCER, ROLE_OBSERVER)
    if isinstance(message, Bye):  # handing tasks back is for whoever holds leases: workers
        return not message.returned and not message.cancelled
    return type(message) in _SUBMITTER_MESSAGES


def observes(message: Message) -> bool:
    """Whether ``message`` only reads: what an observer's key may send."""
    if isinstance(message, Hello):
        return message.role == ROLE_OBSERVER
    if isinstance(message, Query):
        return message.what in READ_QUERIES
    if isinstance(message, Bye):
        return not message.returned and not message.cancelled
    return isinstance(message, Heartbeat)


def zap_answer(request: list[bytes], roles: Mapping[bytes, str]) -> list[bytes]:
    """The reply to one ZAP request: 200 with the key's role as User-Id, or 400 and why.

    ``roles`` maps a client's raw 32-byte public key to its role. Only CURVE in zq's
    domain is accepted: a request for another mechanism or domain is refused.
    """
    request_id = request[1] if len(request) > 1 else b""

    def reply(status: bytes, text: bytes, user: str = "") -> list[bytes]:
        return [ZAP_VERSION, request_id, status, text, user.encode(), b""]

    if len(request) < 6 or request[0] != ZAP_VERSION:
        return reply(b"400", b"malformed ZAP request")
    domain, mechanism, credentials = request[2], request[5], request[6:]
    if domain != ZAP_DOMAIN:
        return reply(b"400", b"unknown ZAP domain")
    if mechanism != b"CURVE" or len(credentials) != 1:
        return reply(b"400", b"CURVE required")
    role = roles.get(credentials[0])
    if role is None:
        return reply(b"400", b"key not allowed")
    return reply(b"200", b"OK", role)


class Unknown(enum.Enum):
    """What a dispatcher does with a message from a session it does not know."""

    HANDLE = "handle"  # as from anyone: the message needs no session (Ack, Progress, Bye, Hello)
    REJOIN = "rejoin"  # say Rejoin, and still take it: tasks and results are never dropped
    REJOIN_ONLY = "rejoin only"  # say Rejoin; the message meant something only in the session


_UNKNOWN_SESSION = {
    Submit: Unknown.REJOIN,
    Resubmit: Unknown.REJOIN,
    Results: Unknown.REJOIN,
    Fetch: Unknown.REJOIN_ONLY,  # the answer would go to a session that is not there
    Credit: Unknown.REJOIN_ONLY,  # credit is per session: the Hello grants it afresh
    Heartbeat: Unknown.REJOIN_ONLY,
    Copied: Unknown.REJOIN_ONLY,  # acknowledges a copy of a session that is not there
}


def unknown_session(message: Message) -> Unknown:
    """The rule for ``message`` when its sender's session is unknown to the dispatcher.

    A session is unknown after the dispatcher restarted or declared the peer lost (a draining
    executor that still holds leases is known). The peer is
    told to say ``Hello`` again (``Rejoin``); what it sent in the meantime that carries work
    (submitted tasks, results) counts all the same, so nothing is lost while it rejoins.
    """
    return _UNKNOWN_SESSION.get(type(message), Unknown.HANDLE)
