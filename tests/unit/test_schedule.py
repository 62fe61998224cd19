"""Schedule math in virtual time: ``plan`` is driven by a simulated clock, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from zq.core.timetable import Plan, Timetable, plan, run_id


def at(text: str, zone: str | None = None) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=ZoneInfo(zone) if zone else UTC).astimezone(UTC)


class Sim:
    """A scheduler in virtual time: it wakes exactly when ``plan`` asks (or at clock jumps)."""

    def __init__(self, table: Timetable, now: datetime, **options: object) -> None:
        self.table, self.now, self.options = table, now, options
        self.last: str | None = None
        self.fired: list[str] = []
        self.fired_at: list[datetime] = []

    def step(self) -> Plan:
        p = plan(self.table, self.last, self.now, **self.options)  # type: ignore[arg-type]
        self.options.pop("skip_first_run", None)  # it is about the first pass only
        self.fired += [s.key for s in p.fire]
        self.fired_at += [self.now for _ in p.fire]
        if p.last is not None:
            self.last = p.last
        return p

    def run_until(self, end: datetime) -> None:
        while True:
            p = self.step()
            if p.wake is None or p.wake > end:
                self.now = end
                return
            self.now = max(p.wake, self.now)


def test_cron_five_fields_fires_each_minute_on_the_minute() -> None:
    sim = Sim(Timetable(cron="* * * * *"), at("2026-01-01T00:00:30"))
    sim.run_until(at("2026-01-01T00:03:10"))
    # first sight at :30 fires the current minute (as taskiq does), then each minute
    assert sim.fired == [f"2026-01-01T00:0{m}:00" for m in range(4)]
    assert sim.fired_at[1:] == [at(f"2026-01-01T00:0{m}:00") for m in (1, 2, 3)]


def test_cron_six_fields_has_seconds() -> None:
    sim = Sim(Timetable(cron="* * * * * */15"), at("2026-01-01T00:00:01"))
    sim.run_until(at("2026-01-01T00:01:00"))
    assert [k[-2:] for k in sim.fired] == ["00", "15", "30", "45", "00"]


def test_an_old_cron_slot_does_not_fire_at_first_sight() -> None:
    sim = Sim(Timetable(cron="0 3 * * *"), at("2026-01-01T14:00:00"))
    sim.run_until(at("2026-01-02T03:00:00"))
    assert sim.fired == ["2026-01-02T03:00:00"]


def test_interval_slots_are_aligned_so_every_scheduler_agrees() -> None:
    a = Sim(Timetable(interval=10), at("2026-01-01T00:00:03"))
    b = Sim(Timetable(interval=timedelta(seconds=10)), at("2026-01-01T00:00:07"))
    a.run_until(at("2026-01-01T00:00:35"))
    b.run_until(at("2026-01-01T00:00:35"))
    assert a.fired == b.fired and len(a.fired) == 4  # the current slot at once, then 3 more
    assert a.fired_at[1] == at("2026-01-01T00:00:10")


def test_one_off_time_fires_once_even_if_late_and_never_again() -> None:
    table = Timetable(time=datetime(2026, 1, 1, 12, 0))  # naive: UTC
    sim = Sim(table, at("2026-01-01T11:00:00"))
    sim.run_until(at("2026-01-02T00:00:00"))
    assert sim.fired == ["once"] and sim.fired_at == [at("2026-01-01T12:00:00")]
    late = Sim(table, at("2026-01-01T13:00:00"), skip_first_run=True)
    late.run_until(at("2026-01-02T00:00:00"))
    assert late.fired == ["once"]  # a one-off is never skipped: it has no other slot


def test_time_zone_names_and_fixed_offsets() -> None:
    paris = Sim(Timetable(cron="0 9 * * *", cron_offset="Europe/Paris"), at("2026-01-01T00:00"))
    paris.run_until(at("2026-01-02T00:00"))
    assert paris.fired_at == [at("2026-01-01T08:00")]  # 09:00 in Paris, winter: UTC+1
    plus2 = Sim(Timetable(cron="0 9 * * *", cron_offset=timedelta(hours=2)), at("2026-01-01"))
    plus2.run_until(at("2026-01-02T00:00"))
    assert plus2.fired_at == [at("2026-01-01T07:00")]


def test_dst_spring_forward_fires_each_wall_slot_once() -> None:
    zone = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT: 02:00-02:59 never happens
    sim = Sim(Timetable(cron="*/30 * * * *", cron_offset=zone), at("2026-03-08T01:10", zone))
    sim.run_until(at("2026-03-08T04:10", zone))
    hours = [k[11:16] for k in sim.fired]
    assert hours == ["01:30", "02:00", "02:30", "03:00", "03:30", "04:00"]
    assert sim.fired_at == sorted(sim.fired_at)  # due times never go backwards


def test_dst_fall_back_fires_the_repeated_hour_once() -> None:
    zone = "America/New_York"  # 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice
    sim = Sim(Timetable(cron="30 * * * *", cron_offset=zone), at("2026-11-01T00:40", zone))
    sim.run_until(at("2026-11-01T03:40", zone))
    assert [k[11:16] for k in sim.fired] == ["01:30", "02:30", "03:30"]
    gap = sim.fired_at[1] - sim.fired_at[0]
    assert gap == timedelta(hours=2)  # 01:30 fired at its first occurrence only


def test_skip_first_run_marks_the_due_slot_fired_without_firing() -> None:
    sim = Sim(Timetable(interval=5), at("2026-01-01T00:00:02"), skip_first_run=True)
    sim.run_until(at("2026-01-01T00:00:11"))
    assert sim.fired == [str(int(at("2026-01-01T00:00:05").timestamp()) // 5), sim.fired[1]]
    assert len(sim.fired) == 2  # 00:05 and 00:10, not 00:00


def test_restart_with_the_persisted_slot_neither_refires_nor_skips() -> None:
    table = Timetable(cron="* * * * *")
    first = Sim(table, at("2026-01-01T00:00:00"))
    first.run_until(at("2026-01-01T00:02:00"))
    assert first.fired[-1] == "2026-01-01T00:02:00"
    again = Sim(table, at("2026-01-01T00:02:00.5"))  # restarted at once, same state
    again.last = first.last
    again.run_until(at("2026-01-01T00:03:00"))
    assert again.fired == ["2026-01-01T00:03:00"]  # not 00:02 again


@pytest.mark.parametrize(
    ("missed", "expected"),
    [
        ("once", ["2026-01-01T00:07:00"]),  # one run for the missed period
        ("all", [f"2026-01-01T00:0{m}:00" for m in range(3, 8)]),
        ("skip", []),
    ],
)
def test_missed_slots_follow_the_policy(missed: str, expected: list[str]) -> None:
    table = Timetable(cron="* * * * *")
    sim = Sim(table, at("2026-01-01T00:07:30"), missed=missed)
    sim.last = "2026-01-01T00:02:00"  # down from 00:02:30 to 00:07:30
    sim.step()
    assert sim.fired == expected
    sim.run_until(at("2026-01-01T00:08:00"))
    assert sim.fired[-1] == "2026-01-01T00:08:00"  # then it continues


def test_an_on_time_slot_stands_for_the_missed_ones() -> None:
    sim = Sim(Timetable(cron="* * * * *"), at("2026-01-01T00:07:00.2"))
    sim.last = "2026-01-01T00:02:00"
    sim.step()
    assert sim.fired == ["2026-01-01T00:07:00"]


def test_a_long_outage_is_not_walked_slot_by_slot() -> None:
    sim = Sim(Timetable(cron="* * * * * *"), at("2027-01-01T00:00:00"), missed="all")
    sim.last = "2026-01-01T00:00:00"  # a year of one-second slots
    p = sim.step()
    assert len(p.fire) == 1000 and p.skipped > 0


def test_wall_clock_jump_forward_then_backward() -> None:
    table = Timetable(cron="* * * * *")
    sim = Sim(table, at("2026-01-01T00:00:00"))
    sim.run_until(at("2026-01-01T00:01:00"))
    sim.now = at("2026-01-01T01:00:30")  # NTP steps the clock an hour forward
    sim.step()
    assert sim.fired[-1] == "2026-01-01T01:00:00" and len(sim.fired) == 3  # once for the hour
    sim.now = at("2026-01-01T00:30:00")  # and back again
    p = sim.step()
    assert p.fire == [] and p.wake == at("2026-01-01T01:01:00")  # nothing fires twice
    sim.run_until(at("2026-01-01T01:01:00"))
    assert sim.fired[-1] == "2026-01-01T01:01:00" and len(sim.fired) == 4


def test_bad_schedules_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        Timetable(cron="* * * * *", interval=5)
    with pytest.raises(ValueError, match="invalid cron"):
        Timetable(cron="61 * * * *")
    with pytest.raises(ValueError, match="whole number"):
        Timetable(interval=0.5)
    with pytest.raises(ValueError, match="unknown time zone"):
        Timetable(cron="* * * * *", cron_offset="Mars/Olympus")
    with pytest.raises(ValueError, match="missed must be"):
        plan(Timetable(interval=1), None, at("2026-01-01"), missed="later")


def test_run_ids_are_deterministic_per_slot() -> None:
    table = Timetable(interval=1)
    (slot,) = plan(table, None, at("2026-01-01T00:00:00")).fire
    assert run_id("s1", slot) == run_id("s1", slot) == f"s1@{slot.key}"
    assert run_id("s1", slot, task_id="fixed") == f"fixed@{slot.key}"
