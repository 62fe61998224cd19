"""CURVE key files and settings: generate, read, check; put them on a socket.

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

from zq.core.access import ZAP_DOMAIN
from zq.exceptions import SecurityConfigError
from zq.transport.curve.allow import AllowList

log = logging.getLogger("zq.security")


# CVE-2019-6250 (fixed in 4.3.1), CVE-2019-13132 (4.3.2: a stack overflow an unauthenticated
# client triggers in the CURVE handshake), CVE-2020-15166 (4.3.3: raw TCP connections to a
# CURVE/ZAP endpoint starve legitimate clients), CVE-2021-20234..20237 (4.3.3).
MIN_LIBZMQ = (4, 3, 3)
ENV = {
    "key": "ZQ_CURVE_KEY",
    "server_key": "ZQ_CURVE_SERVER_KEY",
    "workers": "ZQ_CURVE_WORKERS",
    "producers": "ZQ_CURVE_PRODUCERS",
    "observers": "ZQ_CURVE_OBSERVERS",
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
    the dispatcher, or shares its key pair). ``workers``, ``producers`` and ``observers`` are
    directories of ``.key`` files: the client keys allowed as workers, as producers only, and
    as observers only (they may read the dispatcher's state: ``zq status``, the dashboard).
    """

    key: str
    server_key: str | None = None
    workers: str | None = None
    producers: str | None = None
    observers: str | None = None

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
        return AllowList(own_public, self.workers, self.producers, self.observers)


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
