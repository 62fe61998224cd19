"""``zq.abc.serializer``: where taskiq code imports ``TaskiqSerializer`` from."""

from zq.serializers.base import TaskiqSerializer

__all__ = ["TaskiqSerializer"]
