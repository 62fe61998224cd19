"""Tasks that take zq's ``Context`` (a dependency), apart from ``app_tasks``.

Taking a dependency imports the dependency library, which imports FastAPI when it is installed
(a second per worker process): the app most tests start stays without one.
"""

import time

from tests.integration.app_tasks import _log
from zq import Context, TaskiqDepends, ZeroMQBroker

broker = ZeroMQBroker("tcp://127.0.0.1:5555", heartbeat_s=0.2, liveness_timeout_s=1.0)
APP = "tests.integration.context_app:broker"


@broker.task
def polite(log_path: str, context: Context = TaskiqDepends()) -> str:
    """A sync task in a thread that checks ``context.cancelled`` between steps of its work."""
    _log(log_path, "start")
    for _ in range(3000):
        if context.cancelled:
            _log(log_path, "saw-cancel")
            return "stopped"
        time.sleep(0.01)  # one step of the work
    return "ran to the end"


@broker.task
async def refuse(context: Context = TaskiqDepends()) -> None:
    """Rejects itself: it is dead-lettered."""
    context.reject("not today")
