"""``TaskiqResult``: the outcome of one task, as the caller sees it (taskiq's ``taskiq.result``)."""

from zq.result.result import TaskiqResult

__all__ = ["TaskiqResult"]
