"""A page of memory shared by a worker child and its supervisor: is its loop alive, is it busy.

The child's event loop writes a heartbeat (``time.monotonic()``, the same clock in every
process of the host) every ``BEAT_S``, and a busy flag when it starts its first task and
ends its last. The supervisor reads both without any message passing, so it can tell:

- a child whose loop has not run for a while (a task blocks it: a busy loop, a blocking
  call in an async task), which it then replaces;
- whether a child that died was running a task (likely what killed it: a poison task, which
  the dispatcher quarantines and dead-letters), so that such deaths do not count towards
  giving up on the host.

Writes are single aligned stores into a shared mapping; a torn read is impossible for them.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import time

BEAT_S = 0.25
_LAYOUT = struct.Struct("=dq")  # beat_at (monotonic seconds, 0 = not yet), busy (0 or 1)


class ChildState:
    """The shared page at ``path`` (created by the supervisor with ``create``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(fd, _LAYOUT.size)
        finally:
            os.close(fd)

    @classmethod
    def create(cls, path: str) -> ChildState:
        """Make the file (zeroed) and map it."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(_LAYOUT.size))
        finally:
            os.close(fd)
        return cls(path)

    def beat(self) -> None:
        """The child's loop ran just now."""
        struct.pack_into("=d", self._map, 0, time.monotonic())

    def busy(self, running: bool) -> None:
        """The child started its first running task (True) or ended its last (False)."""
        struct.pack_into("=q", self._map, 8, int(running))

    def read(self) -> tuple[float, bool]:
        """(when the loop last ran, 0.0 if never; whether a task was running)."""
        beat_at, busy = _LAYOUT.unpack_from(self._map, 0)
        return beat_at, bool(busy)

    def silent_for(self) -> float:
        """Seconds since the child's loop last ran (0.0 before its first beat)."""
        beat_at, _ = self.read()
        return time.monotonic() - beat_at if beat_at else 0.0

    def detach(self) -> None:
        """Write to a private page from now on (in a forked copy of the child, at fork)."""
        self._map = mmap.mmap(-1, _LAYOUT.size)

    def close(self, *, remove: bool = False) -> None:
        """Unmap (and, for the supervisor, remove the file)."""
        self._map.close()
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
