"""CURVE keys, allow-lists and the ZAP handler: what locks a zq cluster to known keys.

A process with CURVE on has a key pair (``zq keys generate``). The dispatcher's ROUTER is a
CURVE server; workers and joined producers are clients that must know the dispatcher's public
key. Which client keys may connect is decided by the ZAP handler, which this module binds in
the dispatcher's ZeroMQ context *before* the ROUTER binds; the ROUTER also sets a ZAP domain
and ``ZAP_ENFORCE_DOMAIN``, so that if no handler answers, libzmq refuses every client instead
of letting in anyone who knows the server key (fail closed).

Key files are the ZPL certificates that pyzmq and czmq read: ``NAME.key`` holds the public
key, ``NAME.key_secret`` both keys (written readable by its owner only).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from zq.core.access import KEY_PRODUCER, KEY_WORKER, ZAP_DOMAIN, zap_answer
from zq.core.log_rate import worth_logging
from zq.exceptions import SecurityConfigError

log = logging.getLogger("zq.security")

# CVE-2019-6250 (fixed in 4.3.1), CVE-2019-13132 (4.3.2: a stack overflow an unauthenticated
# client triggers in the CURVE handshake), CVE-2020-15166 (4.3.3: raw TCP connections to a
# CURVE/ZAP endpoint starve legitimate clients), CVE-2021-20234..20237 (4.3.3).
MIN_LIBZMQ = (4, 3, 3)
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ENV = {
    "key": "ZQ_CURVE_KEY",
    "server_key": "ZQ_CURVE_SERVER_KEY",
    "workers": "ZQ_CURVE_WORKERS",
    "producers": "ZQ_CURVE_PRODUCERS",
}


def check_libzmq(version: tuple[int, int, int] | None = None, *, curve: bool = False) -> None:
    """Refuse a libzmq with known CURVE vulnerabilities (or, with ``curve``, without CURVE)."""
    found = version or zmq.zmq_version_info()
    if found < MIN_LIBZMQ:
        raise SecurityConfigError(
            f"libzmq {'.'.join(map(str, found))} has known security flaws (CVE-2019-13132, "
            f"CVE-2020-15166); zq needs libzmq {'.'.join(map(str, MIN_LIBZMQ))} or newer: "
            "`pip install -U pyzmq` (its wheels bundle a current libzmq)"
        )
    if curve and not zmq.has("curve"):
        raise SecurityConfigError("this libzmq was built without CURVE: reinstall pyzmq")


def generate(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write a new key pair as ``NAME.key`` and ``NAME.key_secret`` (owner-only) in ``directory``.

    Refuses to overwrite either file. Returns their paths.
    """
    if not name or "/" in name or name.startswith("."):
        raise SecurityConfigError(f"bad key name {name!r}: a plain file name is needed")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    public_path, secret_path = folder / f"{name}.key", folder / f"{name}.key_secret"
    for path in (public_path, secret_path):
        if path.exists():
            raise SecurityConfigError(f"{path} exists: not overwriting a key")
    public, secret = zmq.curve_keypair()
    _write(secret_path, _certificate(public, secret), 0o600)
    _write(public_path, _certificate(public, None), 0o644)
    return public_path, secret_path


def _certificate(public: bytes, secret: bytes | None) -> str:
    kind = "Secret" if secret else "Public"
    lines = [
        f"#   ****  ZeroMQ CURVE {kind} Certificate, written by `zq keys generate`  ****",
        "#   Keep this file private: anyone holding it can act as this key."
        if secret
        else "#   Give this file to the peers that must recognise this key.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public.decode()}"',
    ]
    if secret:
        lines.append(f'    secret-key = "{secret.decode()}"')
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    # Created with its final mode: a secret key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)  # the umask may have taken bits away from a public key


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """A process's key pair and the dispatcher's public key, all as 40-character Z85."""

    public: bytes
    secret: bytes
    server: bytes


@dataclass(frozen=True, slots=True)
class CurveSettings:
    """Where a process finds its keys: file paths (and Z85 text for the server key).

    ``key`` is this process's ``.key_secret`` file. ``server_key`` is the dispatcher's public
    key (a ``.key`` file or its Z85 text); without it, this process's own public key (it *is*
    the dispatcher, or shares its key pair). ``workers`` and ``producers`` are directories of
    ``.key`` files: the client keys allowed as workers, and as producers only.
    """

    key: str
    server_key: str | None = None
    workers: str | None = None
    producers: str | None = None

    @classmethod
    def resolve(
        cls, env: Mapping[str, str] | None = None, **given: str | os.PathLike[str] | None
    ) -> CurveSettings | None:
        """Settings from ``given`` values, each defaulting to its ``ZQ_CURVE_*`` variable.

        None when no key is given anywhere: CURVE is off.
        """
        env = os.environ if env is None else env
        values = {
            field: os.fspath(value) if (value := given.get(field)) is not None else env.get(var)
            for field, var in ENV.items()
        }
        key = values.pop("key")
        if not key:
            stray = [ENV[field] for field, value in values.items() if value]
            if stray:
                raise SecurityConfigError(
                    f"{', '.join(stray)} set without a key of this process: pass curve_key "
                    f"(--curve-key, ${ENV['key']}) to turn CURVE on"
                )
            return None
        return cls(key, **{k: v or None for k, v in values.items()})

    def load(self) -> CurveKeys:
        """Read the key files; ``SecurityConfigError`` says which one is wrong and how."""
        public, secret = _read(self.key, secret=True)
        assert secret is not None
        server = public if self.server_key is None else read_public(self.server_key)
        return CurveKeys(public, secret, server)

    def allow_list(self, own_public: bytes) -> AllowList:
        """The client keys the dispatcher accepts (its own key pair is always allowed)."""
        return AllowList(own_public, self.workers, self.producers)


def read_public(value: str) -> bytes:
    """A public key from a key file, or given as its 40-character Z85 text."""
    if len(value) == 40 and not os.path.exists(value):
        try:
            z85.decode(value)
        except ValueError:
            pass
        else:
            return value.encode()
    return _read(value, secret=False)[0]


def _read(path: str, *, secret: bool) -> tuple[bytes, bytes | None]:
    if not os.path.isfile(path):
        raise SecurityConfigError(f"CURVE key file {path} not found")
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise SecurityConfigError(f"{path} is not a CURVE key file: {exc}") from None
    if secret and secret_key is None:
        raise SecurityConfigError(f"{path} holds no secret key: pass the .key_secret file")
    if secret and os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users: `chmod 600 %s`", path, path)
    return public, secret_key


class AllowList:
    """Client public keys and their roles, re-read when a directory changes.

    Adding or removing a ``.key`` file takes effect for the next connection, without a
    restart; connections already made are not dropped.
    """

    def __init__(self, own_public: bytes, workers: str | None, producers: str | None) -> None:
        self._own = z85.decode(own_public)
        self._dirs = [(d, role) for d, role in ((producers, KEY_PRODUCER), (workers, KEY_WORKER))]
        self._seen: list[float] = []
        self._roles: dict[bytes, str] = {}
        for directory, _role in self._dirs:
            if directory is not None and not os.path.isdir(directory):
                raise SecurityConfigError(f"allow-list directory {directory} not found")
        self.roles()

    def roles(self) -> dict[bytes, str]:
        """Raw 32-byte public key -> role; a key in both directories is a worker."""
        stamps = [_mtime(d) for d, _role in self._dirs]
        if stamps != self._seen:
            roles: dict[bytes, str] = {}
            for directory, role in self._dirs:  # producers first: a worker entry wins
                if directory is not None and os.path.isdir(directory):
                    for path in sorted(Path(directory).glob("*.key")):
                        key = _allowed_key(path)
                        if key is not None:
                            roles[key] = role
            roles[self._own] = KEY_WORKER
            self._roles, self._seen = roles, stamps
        return self._roles


def _allowed_key(path: Path) -> bytes | None:
    """The raw public key in an allow-list file, or None (logged) if it holds none."""
    try:
        public, _ = zmq.auth.load_certificate(path)
        return z85.decode(public)
    except (OSError, ValueError) as exc:
        log.error("allow-list: skipping %s: %s", path, exc)
        return None


def _mtime(directory: str | None) -> float:
    try:
        return os.stat(directory).st_mtime_ns if directory else 0.0
    except OSError:
        return -1.0


def serve_curve(sock: zmq.Socket[bytes], keys: CurveKeys) -> None:
    """Make ``sock`` (before it binds) a CURVE server whose clients must pass ZAP."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def use_curve(sock: zmq.Socket[bytes], keys: CurveKeys) -> None:
    """Make ``sock`` (before it connects) a CURVE client of the dispatcher ``keys.server``."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, keys.server)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)


HANDSHAKE_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


def handshake_problem(event: int, value: int, *, curve: bool = True) -> str | None:
    """What a client socket's monitor event says went wrong in the handshake, if anything.

    Without CURVE (``curve=False``) no key can be wrong: the peer is not a zq dispatcher of
    this version, or the connection broke while it was being set up.
    """
    if not curve and event in (
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    ):
        return (
            "the connection failed its ZeroMQ handshake: the dispatcher went away while "
            "connecting, or what listens there is not a zq dispatcher (another program, or "
            "a dispatcher with CURVE on)"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (
            f"the dispatcher refused this process's key (ZAP status {value}): add its public "
            "key to the dispatcher's allow-list"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return (
            f"the handshake failed (ZMTP error {value:#x}): do both sides use CURVE, with "
            "the dispatcher's public key as the server key?"
        )
    if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return (
            "the handshake failed: a wrong server key, CURVE on one side only, or a "
            "dispatcher whose authenticator is not running"
        )
    return None


class HandshakeWatch:
    """A client socket's monitor, kept to say why its handshakes fail (a refused key...)."""

    def __init__(self, sock: zmq.Socket[bytes], *, curve: bool = True) -> None:
        self.monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self._sock = sock
        self._curve = curve

    def problem(self) -> str | None:
        """The last handshake failure reported and not followed by a success, if any."""
        found: str | None = None
        while True:
            try:
                frames = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return found
            event = parse_monitor_message(frames)
            found = handshake_problem(int(event["event"]), int(event["value"]), curve=self._curve)

    def close(self) -> None:
        """Stop monitoring."""
        self._sock.disable_monitor()
        self.monitor.close(linger=0)


class ZapHandler:
    """Answers libzmq's authentication requests for one context, on the event loop.

    Bound before any CURVE socket of that context binds. Refusals are logged (the first ten,
    then every thousandth) with the peer's address.
    """

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], allow: AllowList) -> None:
        self.allow = allow
        self.refused = 0
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        try:
            self.sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self.sock.close(linger=0)
            raise SecurityConfigError(f"cannot start the authenticator: {exc}") from None

    @property
    def fd(self) -> int:
        """The descriptor to watch for requests (edge-triggered, like any ZeroMQ socket's)."""
        fd = self.sock.getsockopt(zmq.FD)
        assert isinstance(fd, int)
        return fd

    def answer(self) -> None:
        """Answer every request waiting (reading EVENTS re-arms the descriptor)."""
        sock = self.sock
        while True:
            events = sock.getsockopt(zmq.EVENTS)
            if not (isinstance(events, int) and events & zmq.POLLIN):
                return
            request = sock.recv_multipart(zmq.NOBLOCK)
            try:
                reply = zap_answer(request, self.allow.roles())
            except Exception:  # a REP socket must answer; and when in doubt, refuse
                log.exception("authenticator failed: refusing the connection")
                reply = [b"1.0", request[1] if len(request) > 1 else b"", b"500", b"", b"", b""]
            sock.send_multipart(reply)
            if reply[2] != b"200":
                self._refused(request, reply[3])

    def _refused(self, request: list[bytes], why: bytes) -> None:
        self.refused += 1
        if worth_logging(self.refused):
            address = request[3].decode(errors="replace") if len(request) > 3 else "?"
            key = request[6] if len(request) > 6 and len(request[6]) == 32 else b""
            log.warning(
                "refused a connection from %s (#%d): %s%s",
                address,
                self.refused,
                why.decode(errors="replace"),
                f" (key {z85.encode(key).decode()})" if key else "",
            )

    def close(self) -> None:
        """Stop answering (clients then fail closed)."""
        self.sock.close(linger=0)
