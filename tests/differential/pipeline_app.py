"""Pipeline user code written for taskiq-pipelines, run on taskiq (``T = taskiq``) or zq.

``build`` registers the tasks on a broker; ``run_all`` builds the pipelines with the given
``Pipeline`` class (taskiq_pipelines' or zq.pipelines') and returns what each one gave.
"""

from types import ModuleType
from typing import Any


def build(T: ModuleType, broker: Any) -> dict[str, Any]:
    """The tasks, registered on ``broker`` (names fixed, so workers and producers agree)."""

    @broker.task(task_name="pipes:numbers")
    async def numbers(n: int) -> list[int]:
        return list(range(n))

    @broker.task(task_name="pipes:double")
    async def double(x: int, factor: int = 2) -> int:
        return x * factor

    @broker.task(task_name="pipes:is_even")
    async def is_even(x: int) -> bool:
        return x % 2 == 0

    @broker.task(task_name="pipes:total")
    async def total(xs: list[int]) -> int:
        return sum(xs)

    @broker.task(task_name="pipes:describe")
    async def describe(value: Any, prefix: str = "") -> str:
        return f"{prefix}{value}"

    @broker.task(task_name="pipes:fails")
    async def fails(x: Any) -> None:
        raise ValueError(f"step failed on {x}")

    return {
        "numbers": numbers, "double": double, "is_even": is_even, "total": total,
        "describe": describe, "fails": fails,
    }  # fmt: skip


async def run_all(Pipeline: Any, broker: Any, t: dict[str, Any]) -> dict[str, Any]:
    """Each pipeline's outcome: its value, or ``("error", type name, message)``."""
    fast = {"check_interval": 0.05}  # taskiq-pipelines polls at this period; zq ignores it
    pipes = {
        "call_next": (Pipeline(broker, t["numbers"]).call_next(t["total"]), 5),
        "map": (Pipeline(broker, t["numbers"]).map(t["double"], factor=3, **fast), 6),
        "filter": (Pipeline(broker, t["numbers"]).filter(t["is_even"], **fast), 6),
        "chain": (
            Pipeline(broker, t["numbers"])
            .map(t["double"], **fast)
            .filter(t["is_even"], **fast)
            .call_next(t["total"]),
            7,
        ),
        "param_name": (
            Pipeline(broker, t["numbers"]).call_next(
                t["describe"], param_name="value", prefix="n="
            ),
            3,
        ),
        "map_param_name": (
            Pipeline(broker, t["numbers"]).map(t["double"], param_name="x", **fast),
            4,
        ),
        "call_after": (Pipeline(broker, t["numbers"]).call_after(t["numbers"], n=2), 3),
        "empty_map": (Pipeline(broker, t["numbers"]).map(t["double"], **fast), 0),
        "failing_step": (
            Pipeline(broker, t["numbers"]).call_next(t["fails"]).call_next(t["total"]),
            2,
        ),
        "failing_last": (Pipeline(broker, t["numbers"]).call_next(t["fails"]), 2),
    }
    outcomes: dict[str, Any] = {}
    for name, (pipe, n) in pipes.items():
        result = await (await pipe.kiq(n)).wait_result(timeout=30)
        if result.is_err:
            outcomes[name] = ("error", type(result.error).__name__, str(result.error))
        else:
            outcomes[name] = result.return_value
    return outcomes
