"""A web service that embeds zq, for the rolling-deploy test: several processes of it serve one
HTTP port (SO_REUSEPORT) and share one zq address (the first binds, the others join).

    ZQ_ADDRESS=tcp://... ZQ_TEST_LOG=path python -m tests.integration.web_app PORT

POST /kick?token=T kicks `record(T, log)` and answers 202 once `kiq()` returned.
"""

import logging
import os
import sys

from aiohttp import web

from zq import ZeroMQBroker
from zq.kicker import AsyncKicker

broker = ZeroMQBroker(os.environ["ZQ_ADDRESS"], heartbeat_s=0.2, liveness_timeout_s=1.0)
record = AsyncKicker("tests.integration.app_tasks:record", broker, {})


async def kick(request: web.Request) -> web.Response:
    token = request.query["token"]
    await record.with_task_id(token).kiq(token, os.environ["ZQ_TEST_LOG"])
    return web.Response(status=202, text=token)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/kick", kick)

    async def start(_: web.Application) -> None:
        await broker.startup()

    async def stop(_: web.Application) -> None:
        await broker.shutdown()  # a graceful stop: drain, or hand over to a joined process

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


if __name__ == "__main__":
    logging.basicConfig(
        level=os.environ.get("ZQ_TEST_LOG_LEVEL", "INFO"),
        format="web %(process)d %(name)s %(levelname)s %(message)s",
    )
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), reuse_port=True)
