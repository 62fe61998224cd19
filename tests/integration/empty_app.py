"""An app whose broker module defines no task (its tasks live in modules not named)."""

from zq import ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555")
