"""The pure modules import no zmq, asyncio or clock, and their small pieces behave."""

import ast
from pathlib import Path

import pytest

from zq.core.backoff import backoff_s
from zq.core.liveness import Liveness
from zq.core.result_table import ResultTable

CORE = Path(__file__).resolve().parents[2] / "zq" / "core"
PURE = sorted(path.stem for path in CORE.glob("*.py") if path.stem != "__init__")
FORBIDDEN = {"zmq", "asyncio", "uvloop", "time", "socket", "threading", "selectors", "datetime"}
# Schedule math adds and compares datetimes; the instant "now" is always the caller's.
USES_DATETIME = {"timetable"}
CLOCK_READS = (".now(", ".today(", "utcnow(", "monotonic(", "perf_counter(")


def test_every_module_of_the_core_is_checked() -> None:
    assert {"messages", "codec", "ledger", "liveness", "timetable", "access"} <= set(PURE)


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_no_io_and_read_no_clock(module: str) -> None:
    source = (CORE / f"{module}.py").read_text()
    reads = [read for read in CLOCK_READS if read in source]
    assert not reads, f"zq/core/{module}.py reads a clock: {reads}"
    forbidden = FORBIDDEN - {"datetime"} if module in USES_DATETIME else FORBIDDEN
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & forbidden, f"zq/core/{module}.py imports {imported & forbidden}"


def test_liveness_expires_silent_peers_and_owes_heartbeats() -> None:
    table: Liveness[str] = Liveness(interval_s=1.0, timeout_s=3.0)
    table.heard("a", now=0.0)
    table.heard("b", now=0.0)
    table.sent("a", now=0.5)
    assert table.owed(now=1.2) == ["b"]
    table.heard("a", now=2.5)
    assert table.expired(now=3.1) == ["b"]
    assert "b" not in table and "a" in table
    with pytest.raises(ValueError):
        Liveness(interval_s=2.0, timeout_s=1.0)


def test_backoff_doubles_caps_and_jitters_deterministically() -> None:
    assert [backoff_s(n, base_s=0.1, max_s=1.0) for n in range(5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert backoff_s(1, base_s=1.0, max_s=10.0, jitter=0.5, draw=0.0) == 1.0
    assert backoff_s(1, base_s=1.0, max_s=10.0, jitter=0.5, draw=1.0) == 3.0
    with pytest.raises(ValueError):
        backoff_s(0, base_s=1.0, max_s=1.0, jitter=2.0)


def test_result_table_keeps_the_first_result_and_is_bounded() -> None:
    table: ResultTable[str] = ResultTable(max_results=2, ttl_s=10.0)
    assert table.put("a", "first", now=0.0)
    assert not table.put("a", "second", now=0.1)
    assert table.get("a") == "first" and table.duplicates == 1
    table.put("b", "x", now=1.0)
    table.put("c", "y", now=2.0)
    assert "a" not in table and len(table) == 2 and table.evicted == 1
    assert table.expire(now=11.5) == 1
    assert "b" not in table and "c" in table
    assert table.get_all(["c", "a", "c"]) == ["y", None, "y"]  # in order; None: not stored


def test_a_repeated_event_is_logged_ten_times_then_every_thousandth() -> None:
    from zq.core.log_rate import worth_logging

    logged = [n for n in range(1, 5001) if worth_logging(n)]
    assert logged == [*range(1, 11), 1000, 2000, 3000, 4000, 5000]
