"""Warnings at taskiq's ``taskiq.warnings`` path."""

__all__ = ["TaskiqDeprecationWarning"]


class TaskiqDeprecationWarning(DeprecationWarning):
    """Something taskiq's API still accepts but will drop."""
