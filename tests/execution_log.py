"""The oracle of the integration tests: each run of a task appends a line to a log file.

``record("ZQ_X_LOG", "token")`` appends ``token <pid> [extra...]`` to the file that
environment variable names (the workers inherit it from the test); nothing if it is unset.
One ``O_APPEND`` write per line, so the lines of concurrent processes never interleave.
"""

from __future__ import annotations

import os


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
