"""``zq dashboard`` in a real headless Chromium: live counts, a failed task, a replay by click.

Needs Chromium (Debian's ``chromium``, which ``.ci/run`` installs) and the playwright package
(the test extra); without either the test skips and says so. Screenshots of the overview and
of a task page are saved under the test's tmp path (``--basetemp``) and their paths printed.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT, Worker, free_port
from zq import AsyncTaskiqTask, ZeroMQBroker
from zq.kicker import AsyncKicker

APP = "tests.integration.observe_app"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found (apt-get install chromium; .ci/run does)"
)
FLAGS = [  # as root, offline: no sandbox, nothing fetched in the background
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


async def kiq(broker: ZeroMQBroker, name: str, *args: Any, **labels: Any) -> AsyncTaskiqTask[Any]:
    return await AsyncKicker(f"{APP}:{name}", broker, labels).kiq(*args)


async def serve_dashboard(address: str) -> AsyncIterator[str]:
    """``zq dashboard`` as a user starts it; its URL once it listens."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zq", "dashboard", "--connect", address, "--port", str(port),
        cwd=ROOT, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        while b"running on" not in (line := await asyncio.wait_for(process.stderr.readline(), 30)):
            assert line, "zq dashboard exited before it listened"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:  # (a failure shows its own error, not the suite's timeout)
            process.kill()
            await process.wait()
            raise AssertionError("zq dashboard did not stop within 15 s of SIGTERM") from None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield await chromium.new_page(viewport={"width": 1100, "height": 760})
        finally:
            await chromium.close()


async def test_the_dashboard_live_in_a_browser(
    workers: Callable[..., Worker], browser: Any, tmp_path: Path
) -> None:
    expect = playwright.expect
    page = browser
    broker = ZeroMQBroker("tcp://127.0.0.1:*", heartbeat_s=0.2, liveness_timeout_s=1.0)
    async with broker:
        workers(broker.endpoint, "-w", "1", "--queues", "default", app=f"{APP}:broker")
        await broker.wait_workers(1)
        async for url in serve_dashboard(broker.endpoint):
            await page.goto(url + "/")
            pending = page.locator('[data-live="totals.pending"]')
            await expect(pending).to_have_text("0")
            held = [await kiq(broker, "hold", 600, queue="emails") for _ in range(5)]
            await expect(pending).to_have_text("5", timeout=15_000)  # pushed, no reload
            await expect(page.locator('[data-live="queues"]')).to_contain_text("emails")
            shot = tmp_path / "dashboard-overview.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"SCREENSHOT overview: {shot}")

            # A failed task: its page shows the traceback and what it logged.
            failed = await kiq(broker, "flaky", str(tmp_path / "flaky.log"), 1)
            assert (await failed.wait_result(timeout=30)).is_err
            await page.goto(url + "/tasks?state=failed")
            await page.click(f'a[href="/task/{failed.task_id}"]')
            await expect(page.locator("pre.traceback")).to_contain_text("ValueError: flaky run 1")
            await expect(page.locator("pre.log")).to_contain_text("flaky run 1 begins")
            shot = tmp_path / "dashboard-task.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"SCREENSHOT task: {shot}")

            # A dead letter, replayed by a click: its page follows it to success.
            letter = await kiq(broker, "reject_once", str(tmp_path / "reject.log"))
            assert (await letter.wait_result(timeout=30)).is_err
            await page.goto(url + "/dead")
            row = page.locator("tr", has_text=letter.task_id)
            await row.get_by_role("button", name="Replay").click()
            await expect(page.locator('[data-live="task.state"]')).to_have_text(
                "succeeded", timeout=15_000
            )
            assert (await letter.wait_result(timeout=30)).return_value == "replayed"
            await broker.cancel_many([h.task_id for h in held])
