"""One task as the ledger holds it, pending, delayed or leased: ``Entry``.

Pure. Kept apart from ``zq.core.pending`` so that ``zq.core.spill`` (which makes entries out
of their encoded form) and the pending queues (which hold them) can both import it.
"""

from __future__ import annotations

import msgspec

from zq.core.messages import TaskMsg

ACKED, QUARANTINED, CANCELLED, SPILLED = 1, 2, 4, 8  # ``Entry.flags``


class _Flag:
    """One bit of ``Entry.flags``, read and set as a bool attribute."""

    def __init__(self, bit: int, doc: str) -> None:
        self.bit = bit
        self.__doc__ = doc

    def __get__(self, entry: Entry, owner: type | None = None) -> bool:
        return bool(entry.flags & self.bit)

    def __set__(self, entry: Entry, value: bool) -> None:
        entry.flags = entry.flags | self.bit if value else entry.flags & ~self.bit


class Entry(msgspec.Struct, gc=False):
    """One task in the ledger, pending, delayed or leased.

    A Struct without garbage-collector tracking (it never takes part in a reference cycle):
    made in a third of a dataclass's time, and a queue of a million of them costs the
    collector nothing to traverse. Ten fields, 96 bytes: what is rarely set shares a field
    (the successor with its due time; the flags in one int, read as bools through `_Flag`).
    """

    task: TaskMsg
    origin: bytes | None  # the submitting peer, or None for this process's own producer
    holder: bytes | None = None  # the executor holding the lease, None while pending
    deliveries: int = 0
    due: float | None = None  # set while delayed
    # The next run, resubmitted by the holder, and when it is due (None: at once)
    next_run: tuple[TaskMsg, float | None] | None = None
    flags: int = 0  # ACKED | QUARANTINED | CANCELLED | SPILLED
    slot: str = ""  # the concurrency key whose slot its lease takes, while leased
    leased_at: float = 0.0  # when its lease began, in the caller's clock (for ``explain``)
    kicked_at: float = 0.0  # when the ledger accepted it, in the caller's clock (history)

    acked = _Flag(ACKED, "Acknowledged early by its holder (rule 8).")
    quarantined = _Flag(QUARANTINED, "Pending in the quarantine queue (rule 9).")
    cancelled = _Flag(CANCELLED, "Cancelled while leased: it ends, whatever its lease does (11).")
    spilled = _Flag(SPILLED, "Waiting in its queue's encoded tail, not its head (zq.core.spill).")
