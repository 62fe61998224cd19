"""``zq.abc.result_backend``: where taskiq code imports ``AsyncResultBackend`` from."""

from zq.backends import AsyncResultBackend

__all__ = ["AsyncResultBackend"]
