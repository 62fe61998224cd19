"""zq's brokers (taskiq's ``taskiq.brokers`` paths)."""

from zq.brokers.inmemory_broker import InMemoryBroker
from zq.brokers.zmq_broker import ZeroMQBroker

__all__ = ["InMemoryBroker", "ZeroMQBroker"]
