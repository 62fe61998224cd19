"""How long a browse from this host takes to find a dispatcher of APP: prints it in seconds.

python tests/lan/browse.py APP
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from zq.transport.discovery import Browser


async def main(app: str) -> None:
    browser = Browser(app)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await browser.start()
    found = await browser.wait_any(10.0)
    took = loop.time() - started
    await browser.stop()
    print(f"{took:.3f} {len(found)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
