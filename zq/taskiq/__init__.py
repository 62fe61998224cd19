"""zq as a broker for taskiq itself: keep ``import taskiq`` everywhere, swap only the broker.

``zq.taskiq.ZeroMQBroker`` is a real ``taskiq.AsyncBroker``, run by taskiq's own
``taskiq worker``, so taskiq's whole ecosystem (taskiq-fastapi, taskiq-pipelines, dashboards,
result backends) keeps working, on zq's brokerless transport: each task goes to exactly one
worker, and a task whose worker dies before acknowledging it runs again on another. Needs taskiq
(``pip install 'zq[taskiq]'``).
"""

from zq.taskiq.broker import ZeroMQBroker

__all__ = ["ZeroMQBroker"]
