"""``zq dashboard``'s server without a browser: the token, no dispatcher, schedules, --host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from tests.integration.conftest import free_address
from zq import ZeroMQBroker
from zq.cli.commands import main
from zq.cli.dashboard.server import Dashboard
from zq.scheduler import ScheduledTask
from zq.scheduling.sqlite_source import SQLiteScheduleSource


@pytest.fixture
async def dispatcher() -> AsyncIterator[ZeroMQBroker]:
    async with ZeroMQBroker("tcp://127.0.0.1:*") as broker:
        yield broker


async def client_of(board: Dashboard) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(board.app()))
    await client.start_server()
    return client


async def test_with_a_token_a_request_needs_it_once_then_its_cookie(
    dispatcher: ZeroMQBroker,
) -> None:
    client = await client_of(Dashboard(dispatcher.endpoint, token="s3cret"))
    try:
        assert (await client.get("/")).status == 401
        assert (await client.get("/?token=wrong")).status == 401
        response = await client.get("/?token=s3cret")  # redirected, with the cookie
        assert response.status == 200 and "Overview" in await response.text()
        assert (await client.get("/dead")).status == 200  # the cookie is enough now
    finally:
        await client.close()


async def test_no_dispatcher_is_a_page_that_says_where_it_looked() -> None:
    nobody = free_address()
    client = await client_of(Dashboard(nobody, timeout_s=1.0))
    try:
        response = await client.get("/")
        text = await response.text()
        assert response.status == 503
        assert "no zq dispatcher answered" in text and nobody in text
    finally:
        await client.close()


async def test_schedules_are_listed_paused_resumed_and_deleted(
    dispatcher: ZeroMQBroker, tmp_path: Path
) -> None:
    db = str(tmp_path / "schedules.db")
    source = SQLiteScheduleSource(db)
    await source.add_schedule(
        ScheduledTask("app:report", [], [], {}, interval=60, schedule_id="s1")
    )
    client = await client_of(Dashboard(dispatcher.endpoint, schedules_db=db))
    try:
        page = await (await client.get("/schedules")).text()
        assert "s1" in page and "active" in page and "app:report" in page
        assert (await client.post("/schedules/s1/pause")).status == 200  # (after the redirect)
        assert source.list()[0][1] is True
        assert (await client.post("/schedules/s1/resume")).status == 200
        assert source.list()[0][1] is False
        assert (await client.post("/schedules/s1/delete")).status == 200
        assert source.list() == []
        assert (await client.post("/schedules/s1/delete")).status == 404
    finally:
        await client.close()


def test_serving_beyond_loopback_needs_a_token() -> None:
    result = CliRunner().invoke(main, ["dashboard", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "needs --token" in result.output
