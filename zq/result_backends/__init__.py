"""Result backends shipped with zq: the embedded one (the default), a dummy one."""

from zq.result_backends.dummy import DummyResultBackend
from zq.result_backends.embedded import EmbeddedResultBackend

__all__ = ["DummyResultBackend", "EmbeddedResultBackend"]
