"""The pipeline app on a ``ZeroMQBroker``, as ``zq worker`` loads it in worker processes."""

import zq
from tests.differential.pipeline_app import build

broker = zq.ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
tasks = build(zq, broker)
