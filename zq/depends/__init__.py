"""Dependencies for tasks (``taskiq.depends`` becomes ``zq.depends``)."""

from zq.depends.progress_tracker import ProgressTracker, TaskProgress, TaskState

__all__ = ["ProgressTracker", "TaskProgress", "TaskState"]
