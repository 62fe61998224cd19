"""Payload serializers (taskiq's ``taskiq.serializers`` names).

A serializer turns ``[args, kwargs]`` and return values into bytes. The dispatcher never
decodes them, so producer and workers must agree on one. zq's default is msgpack (via msgspec):
compact, fast, and it keeps bytes, datetimes and UUIDs.
"""

from zq.serializers.base import TaskiqSerializer
from zq.serializers.json_serializer import JSONSerializer
from zq.serializers.msgpack_serializer import MSGPackSerializer
from zq.serializers.pickle import PickleSerializer

__all__ = ["JSONSerializer", "MSGPackSerializer", "PickleSerializer", "TaskiqSerializer"]
