"""A scheduled app for the scheduler tests; the tasks write the execution log (the oracle)."""

from __future__ import annotations

import os

from zq import (
    Context,
    LabelScheduleSource,
    SQLiteScheduleSource,
    TaskiqDepends,
    TaskiqScheduler,
    ZeroMQBroker,
)

broker = ZeroMQBroker(os.environ.get("ZQ_TEST_ADDRESS", "tcp://127.0.0.1:*"))


def _log(line: str) -> None:
    with open(os.environ["ZQ_TEST_LOG"], "a") as log:
        log.write(f"{line} {os.getpid()}\n")


@broker.task(task_name="tick", schedule=[{"interval": 1, "schedule_id": "every-second"}])
async def tick(context: Context = TaskiqDepends()) -> None:
    """Log this run's task id (the slot)."""
    _log(context.message.task_id)


@broker.task(task_name="note")
async def note(word: str, context: Context = TaskiqDepends()) -> None:
    """Log the word and the run's task id."""
    _log(f"{word}:{context.message.task_id}")


labels = TaskiqScheduler(broker, [LabelScheduleSource(broker)])
dynamic = TaskiqScheduler(broker, [SQLiteScheduleSource(os.environ.get("ZQ_TEST_DB", "x.db"))])
