"""The per-task execution pipeline (taskiq's ``taskiq.receiver``)."""

from zq.receiver.receiver import Receiver

__all__ = ["Receiver"]
