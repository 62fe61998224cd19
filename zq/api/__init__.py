"""Running a worker or a scheduler inside your own program (taskiq's ``taskiq.api``)."""

from zq.api.receiver import run_receiver_task
from zq.api.scheduler import run_scheduler_task

__all__ = ["run_receiver_task", "run_scheduler_task"]
