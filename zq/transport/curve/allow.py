"""Allow-lists: directories of public key files, each a role (worker or producer only)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85

from zq.core.access import KEY_OBSERVER, KEY_PRODUCER, KEY_WORKER
from zq.exceptions import SecurityConfigError

log = logging.getLogger("zq.security")


class AllowList:
    """Client public keys and their roles, re-read when a directory changes.

    Adding or removing a ``.key`` file takes effect for the next connection, without a
    restart; connections already made are not dropped.
    """

    def __init__(
        self,
        own_public: bytes,
        workers: str | None,
        producers: str | None,
        observers: str | None = None,
    ) -> None:
        self._own = z85.decode(own_public)
        order = ((observers, KEY_OBSERVER), (producers, KEY_PRODUCER), (workers, KEY_WORKER))
        self._dirs = [(d, role) for d, role in order]
        self._seen: list[float] = []
        self._roles: dict[bytes, str] = {}
        for directory, _role in self._dirs:
            if directory is not None and not os.path.isdir(directory):
                raise SecurityConfigError(f"allow-list directory {directory} not found")
        self.roles()

    def roles(self) -> dict[bytes, str]:
        """Raw 32-byte public key -> role; a key in several directories has the widest role."""
        stamps = [_mtime(d) for d, _role in self._dirs]
        if stamps != self._seen:
            roles: dict[bytes, str] = {}
            for directory, role in self._dirs:  # narrowest first: a wider entry wins
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
