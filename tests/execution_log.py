"""The oracle of the integration tests: each run of a task appends a line to a log file.

``record("ZQ_X_LOG", "token")`` appends ``token <pid> [extra...]`` to the file that
environment variable names (the workers inherit it from the test); nothing if it is unset.
One ``O_APPEND`` write per line, so the lines of concurrent processes never interleave;
a reader that reads while tasks run reads with :func:`lines`, which leaves out a line still
being written.
"""

from __future__ import annotations

import os
from pathlib import Path


def record(env_var: str, token: str, *extra: str) -> None:
    """Append ``token``, this process's pid and ``extra`` as one line of the log."""
    path = os.environ.get(env_var)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (" ".join([token, str(os.getpid()), *extra]) + "\n").encode())
    finally:
        os.close(fd)


def lines(path: Path) -> list[str]:
    """The complete lines of a log (none if it does not exist yet).

    A line that crosses a page boundary is copied into the file in two steps and a reader
    can see its first part alone (CI once read ``p0/737`` without its pid): a last line
    with no newline is still being written, so it is left for the next read.
    """
    if not path.exists():
        return []
    return path.read_text().split("\n")[:-1]
