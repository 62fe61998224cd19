"""Result backends shipped with zq: the embedded one (the default) lives here."""

from zq.result_backends.embedded import EmbeddedResultBackend

__all__ = ["EmbeddedResultBackend"]
