"""The web opt-out in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Open the link, see the masked number, press the button, answer the survey; screenshots of each step
go to docs/web-optout/. The browser is the system one (``executable_path``): nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import EventType
from tests.stack import Stack, running_stack
from tests.test_web_optout import NUMBER, WEB, base_url, make_link

pytestmark = pytest.mark.anyio

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "web-optout"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("needs Debian's chromium package (.ci/run installs it)", allow_module_level=True)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, WEB) as s:
        yield s


async def test_browser_open_press_answer(stack: Stack) -> None:
    from playwright.async_api import async_playwright

    token = await make_link(stack)
    url = f"{base_url(stack)}/u/{token}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 700})  # a phone
            response = await page.goto(url)
            assert response is not None and response.status == 200
            assert await page.locator(".number").inner_text() == "+447*******01"
            await page.screenshot(path=str(SHOTS / "1-link-opened.png"))
            assert await stack.app.store.get_suppression("acme", NUMBER) is None  # opening is not opting out
            await page.get_by_role("button", name="Opt out").click()
            await page.wait_for_selector("text=is opted out")
            await page.screenshot(path=str(SHOTS / "2-opted-out-survey.png"))
            assert await stack.app.store.get_suppression("acme", NUMBER) is not None
            await page.get_by_label("Not relevant to me").check()
            await page.get_by_role("button", name="Send answer").click()
            await page.wait_for_selector("text=Thank you")
            await page.screenshot(path=str(SHOTS / "3-thanks.png"))
            # Reloading the link shows the state and opts out nothing twice.
            await page.goto(url)
            await page.wait_for_selector("text=was already opted out")
        finally:
            await browser.close()
    events = await stack.app.store.events(number=NUMBER)
    assert [e.type for e in events] == [EventType.OPT_OUT, EventType.OPTOUT_REASON]
    assert events[1].reason == "not_relevant"
    assert "HeadlessChrome" in (events[0].text or "")
