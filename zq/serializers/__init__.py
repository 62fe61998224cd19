"""Payload serializers (taskiq's ``taskiq.serializers`` names).

A serializer turns ``[args, kwargs]`` and return values into bytes. The dispatcher never
decodes them, so producer and workers must agree on one. zq's default is msgpack (via msgspec):
compact, fast, and it keeps bytes, datetimes and UUIDs. Each carries pydantic models (as their
JSON-mode dump) and paths (as text), as taskiq's do; tasks get them back by their annotations.
"""

from zq.serializers.base import TaskiqSerializer
from zq.serializers.cbor_serializer import CBORSerializer
from zq.serializers.json_serializer import JSONSerializer
from zq.serializers.msgpack_serializer import MSGPackSerializer
from zq.serializers.orjson_serializer import ORJSONSerializer
from zq.serializers.pickle import PickleSerializer

__all__ = [
    "CBORSerializer",
    "JSONSerializer",
    "MSGPackSerializer",
    "ORJSONSerializer",
    "PickleSerializer",
    "TaskiqSerializer",
]
