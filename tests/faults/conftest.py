"""Fault injection: real worker hosts, an execution log as the oracle, loopback only."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.faults import app
from tests.integration.conftest import Worker, producer, read_log, workers
from zq import ZeroMQBroker
from zq.task import AsyncTaskiqTask

APP = "tests.faults.app:broker"

__all__ = ["APP", "Worker", "kick_work", "oracle", "parent_of", "producer", "rss_mb", "workers"]


async def kick_work(
    broker: ZeroMQBroker, tokens: Iterable[str], log: Path, seconds: float = 0.0
) -> list[AsyncTaskiqTask[Any]]:
    """Kick the ``work`` task once per token."""
    kicker = app.work.kicker().with_broker(broker)
    return [await kicker.kiq(token, str(log), seconds) for token in tokens]


def oracle(log: Path, tokens: Iterable[str]) -> tuple[list[str], dict[str, int]]:
    """(lost, duplicated) according to the tasks' own log: never run to the end, run twice+."""
    executed, _ = read_log(log)
    lost = [t for t in tokens if executed[t] == 0]
    duplicated = {t: n for t, n in executed.items() if n > 1}
    return lost, duplicated


def parent_of(pid: int) -> int:
    """The parent pid of a running process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise LookupError(pid)


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(pid)
