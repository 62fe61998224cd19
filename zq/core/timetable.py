"""When a schedule fires: its slots, and what is due at a given instant (pure: no clock).

A schedule is a sequence of **slots**, each with a key (stable across processes: the task
id of a run is derived from it, so two schedulers kick the same id for the same slot) and a
due instant:

- ``cron``: the slots are wall-clock times in the schedule's zone (``cron_offset``: an IANA
  name, or a fixed offset; UTC by default), as croniter lists them; 5 fields, or 6 with the
  seconds last. The key is the wall-clock time, so each wall-clock slot fires once across a
  DST change: a time that occurs twice fires at its first occurrence, and a time that does not
  exist fires when the clock jumps past it (due instants never go backwards).
- ``interval``: slot ``k`` is due at ``k * interval`` seconds since the Unix epoch, so every
  scheduler agrees on the slots without sharing a start time.
- ``time``: one slot.

``plan`` decides, from the last slot that fired (persisted by the caller) and the current
wall-clock instant, which slots to fire now, what to persist, and when to look again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

MISSED_POLICIES = ("once", "all", "skip")
LATE_AFTER_S = 1.0  # a slot due longer ago than this was missed (the scheduler was not running)
START_GRACE_S = 60.0  # at first sight, a cron slot this recent is still due (taskiq: the minute)
MAX_CATCH_UP = 1000  # "all" fires at most this many missed slots at once

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Slot:
    """One run of a schedule: ``key`` names it, ``due`` is when (aware, UTC)."""

    key: str
    due: datetime


def zone_of(offset: str | timedelta | None) -> tzinfo:
    """The time zone of ``cron_offset``: an IANA name, a fixed offset, or UTC."""
    if offset is None:
        return UTC
    if isinstance(offset, timedelta):
        return timezone(offset)
    try:
        return ZoneInfo(offset)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {offset!r} in cron_offset") from exc


def aware(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken as UTC (as taskiq does)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Timetable:
    """The slots of one schedule (exactly one of ``cron``, ``interval``, ``time``)."""

    def __init__(
        self,
        *,
        cron: str | None = None,
        cron_offset: str | timedelta | None = None,
        interval: float | timedelta | None = None,
        time: datetime | None = None,
    ) -> None:
        given = [name for name, v in (("cron", cron), ("interval", interval), ("time", time)) if v]
        if len(given) != 1:
            raise ValueError(f"a schedule needs exactly one of cron, interval, time (got {given})")
        self.cron = cron
        self.zone = zone_of(cron_offset)
        if cron is not None and not croniter.is_valid(cron):
            raise ValueError(f"invalid cron expression {cron!r} (5 fields, or 6 with seconds)")
        self.interval_s: float | None = None
        if interval is not None:
            seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
            if seconds < 1 or seconds != int(seconds):
                raise ValueError(f"interval must be a whole number of seconds >= 1: {interval!r}")
            self.interval_s = float(seconds)
        self.time = aware(time) if time is not None else None
        self.kind = given[0]

    # --- slots --------------------------------------------------------------------------

    def _due(self, wall: datetime) -> datetime:
        # fold=0: a repeated wall time is its first occurrence; one in a DST gap is read with
        # the offset before the change (02:30 that never happened fires at 03:30 summer time).
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _interval_slot(self, k: int) -> Slot:
        assert self.interval_s is not None
        return Slot(str(k), _EPOCH + timedelta(seconds=k * self.interval_s))

    def after(self, key: str | None, now: datetime) -> Slot | None:
        """The slot after ``key`` (None: the first slot after ``now``)."""
        if self.kind == "time":
            assert self.time is not None
            return Slot("once", self.time) if key is None else None
        if self.kind == "interval":
            assert self.interval_s is not None
            k = int(key) if key is not None else math.floor(_seconds(now) / self.interval_s)
            return self._interval_slot(k + 1)
        assert self.cron is not None
        if key is not None:
            start = datetime.fromisoformat(key)
            floor: datetime | None = self._due(start)
        else:
            start = now.astimezone(self.zone).replace(tzinfo=None)
            floor = None
        wall = croniter(self.cron, start).get_next(datetime)
        due = self._due(wall)
        return Slot(wall.isoformat(), max(due, floor) if floor is not None else due)

    def due_since(self, key: str | None, now: datetime, limit: int) -> tuple[list[Slot], int]:
        """The slots after ``key`` that have come by ``now``, and how many were left out.

        Only the newest ``limit`` are returned, oldest first. ``key=None``: just the latest.
        """
        if self.kind == "time":
            assert self.time is not None
            return ([Slot("once", self.time)] if key is None and self.time <= now else []), 0
        if self.kind == "interval":
            assert self.interval_s is not None
            newest = math.floor(_seconds(now) / self.interval_s)
            oldest = newest if key is None else int(key) + 1
            first = max(oldest, newest - limit + 1)
            return [self._interval_slot(k) for k in range(first, newest + 1)], max(
                0, first - oldest
            )
        assert self.cron is not None
        # Walk back from now (a long outage costs `limit` steps, not one per missed slot).
        local = now.astimezone(self.zone).replace(tzinfo=None)
        stop = datetime.fromisoformat(key) if key is not None else None
        it = croniter(self.cron, local + timedelta(microseconds=1))
        walls: list[datetime] = []
        left_out = 0
        while True:
            wall = it.get_prev(datetime)
            if stop is not None and wall <= stop:
                break
            if len(walls) == (1 if key is None else limit):
                left_out = 1  # at least one more; counting them all could take forever
                break
            walls.append(wall)
        slots: list[Slot] = []
        floor = self._due(stop) if stop is not None else None
        for wall in reversed(walls):
            due = self._due(wall)
            floor = max(due, floor) if floor is not None else due
            if floor > now:  # a gap slot whose shifted time has not come yet
                break
            slots.append(Slot(wall.isoformat(), floor))
        return slots, left_out

    def valid_key(self, key: str) -> bool:
        """Whether ``key`` can be a slot of this timetable (else the state is stale)."""
        try:
            if self.kind == "interval":
                int(key)
            elif self.kind == "cron":
                datetime.fromisoformat(key)
            else:
                return key == "once"
        except ValueError:
            return False
        return True


def _seconds(now: datetime) -> float:
    return (now - _EPOCH).total_seconds()


@dataclass(slots=True)
class Plan:
    """What to do now: fire ``fire``, persist ``last`` (if set), look again at ``wake``."""

    fire: list[Slot] = field(default_factory=list)
    last: str | None = None
    wake: datetime | None = None
    skipped: int = 0  # due slots that were not fired (missed-slot policy, --skip-first-run)


def plan(
    table: Timetable,
    last: str | None,
    now: datetime,
    *,
    missed: str = "once",
    skip_first_run: bool = False,
) -> Plan:
    """Decide what is due at ``now``, given the key of the last slot fired (None: never).

    First sight (``last`` is None): a one-off time fires if it has come; an interval fires
    its current slot; a cron fires its latest slot if it came less than ``START_GRACE_S``
    ago.

    Later, every slot after ``last`` that has come is due. Those due less than
    ``LATE_AFTER_S`` ago fire; the older ones were missed, and ``missed`` says what happens:
    ``"once"`` (the default) fires the latest of them if nothing else fires, ``"all"`` fires
    each (at most ``MAX_CATCH_UP``), ``"skip"`` fires none.

    ``skip_first_run`` (the scheduler's first pass with ``--skip-first-run``): what is due is
    marked fired without firing, except a one-off time (it has no other slot).
    """
    if missed not in MISSED_POLICIES:
        raise ValueError(f"missed must be one of {MISSED_POLICIES}, got {missed!r}")
    if last is not None and not table.valid_key(last):
        last = None  # the schedule changed kind: start afresh
    result = Plan()
    if last is None:
        found, _ = table.due_since(None, now, 1)
        if found:
            first = found[-1]
            result.last = first.key
            if table.kind != "cron" or _age(first, now) <= START_GRACE_S:
                result.fire.append(first)
            else:
                result.skipped += 1
    else:
        due, result.skipped = table.due_since(last, now, MAX_CATCH_UP)
        if due:
            result.last = due[-1].key
            on_time = [s for s in due if _age(s, now) <= LATE_AFTER_S]
            late = [s for s in due if _age(s, now) > LATE_AFTER_S]
            if missed == "all":
                result.fire = due
            elif missed == "once" and late and not on_time:
                result.fire = [late[-1]]
            else:
                result.fire = on_time
            result.skipped += len(due) - len(result.fire)
    if skip_first_run and table.kind != "time" and result.fire:
        result.skipped += len(result.fire)
        result.fire = []
    newest = result.last if result.last is not None else last
    following = table.after(newest, now)
    result.wake = following.due if following is not None else None
    return result


def _age(slot: Slot, now: datetime) -> float:
    return (now - slot.due).total_seconds()


def run_id(schedule_id: str, slot: Slot, task_id: str | None = None) -> str:
    """The task id of one run: the same in every scheduler, different for every slot."""
    return f"{task_id or schedule_id}@{slot.key}"
