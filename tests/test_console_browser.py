"""The compliance console in a real browser (Debian's chromium driven by Playwright), issue 17.

The STOP it looks up comes end to end: an ESME (smpplib) sends a marketing message through Stopgate,
the simulated SMSC delivers "Stop please" from the subscriber, and the next submit is blocked. The
browser then signs in with a named admin token, sees the chart drawn, finds the number by its
national spelling with its STOP, the short code it was sent to and where each webhook stands with
it (one receiver answers 204, one 500 until the event is dead-lettered, one 500 with retries still
going), at desktop and phone width, sees the time to honour and the upstreams page, removes the
opt-out with a reason, downloads exports, signs out; a viewer token is refused the change; wrong
tokens are refused and then rate-limited. Screenshots of each page (a phone-width one too) go to
docs/console/ when STOPGATE_CONSOLE_SHOTS=1 is set (how the committed ones were taken), else to the
test's temporary directory.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import to_thread
from pytest_httpserver import HTTPServer

from gateway.ops.admin import AdminServer
from gateway.smpp.constants import CommandStatus
from gateway.store import EventType
from tests.esme import Esme
from tests.stack import running_stack
from tests.test_console_upstreams import FakeProxy

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ALICE = "alice-admin-token"
VICTOR = "victor-viewer-token"
NUMBER = "447700900401"
NATIONAL = "07700 900401"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "console"
CONFIG: dict[str, Any] = {
    "admin": {
        "enabled": True,
        "listen": "127.0.0.1:0",
        "token": [
            {"name": "alice", "role": "admin", "token": ALICE},
            {"name": "victor", "role": "viewer", "token": VICTOR},
        ],
    },
    "session": {"shutdown_grace": 0.5},
}


def _webhooks(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """crm's receiver takes everything; ledger's fails and gives up at once; archive's fails for an hour."""
    httpserver.expect_request("/crm", method="POST").respond_with_data("", status=204)
    httpserver.expect_request("/failing", method="POST").respond_with_data("down", status=500)
    failing = httpserver.url_for("/failing")
    return [
        {"name": "crm", "url": httpserver.url_for("/crm"), "secret": "k", "events": ["opt_out"]},
        {"name": "ledger", "url": failing, "secret": "k", "events": ["opt_out"], "retry_for": 0.1},
        {
            "name": "archive",
            "url": failing,
            "secret": "k",
            "events": ["opt_out", "blocked"],
            "retry_min": 2.0,
        },
    ]


def _marks(page: Any, row: str) -> list[str]:
    """The webhook marks of a timeline row, as text (the words behind the symbols included)."""
    return [" ".join(t.split()) for t in page.locator(f"{row} td.webhooks li").all_inner_texts()]


def _need_browser() -> None:
    present = os.path.exists(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        present = False
    if not present:
        if os.environ.get("CI"):
            pytest.fail("chromium or playwright missing: .ci/run installs them")
        pytest.skip("needs Debian's chromium and playwright (pip install playwright)")


def _sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/ui/sign-in")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/ui/")


def _canvas_drawn(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(sel) => {
                const c = document.querySelector(sel + ' canvas');
                if (!c || !c.width || !c.height) return false;
                const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
                return false;
            }""",
            selector,
        )
    )


def _browse(base: str, tmp: Path) -> dict[str, Any]:
    """Everything the browser does, in a worker thread (Playwright's sync API owns no event loop here)."""
    from playwright.sync_api import sync_playwright

    shots = SHOTS if os.environ.get("STOPGATE_CONSOLE_SHOTS") == "1" else tmp / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page = ctx.new_page()
            # Signed out, every page sends you to the sign-in form.
            page.goto(f"{base}/ui/suppressions")
            assert page.url.startswith(f"{base}/ui/sign-in")
            page.screenshot(path=str(shots / "sign-in.png"))
            _sign_in(page, base, ALICE)
            cookie = next(c for c in ctx.cookies() if c["name"] == "stopgate_session")
            seen["cookie"] = cookie

            # Overview: the chart is drawn, the campaign and keyword are there.
            page.wait_for_selector("#chart-events canvas")
            page.wait_for_function("document.querySelector('#chart-events').dataset.drawn === 'yes'")
            seen["chart_drawn"] = _canvas_drawn(page, "#chart-events")
            seen["overview"] = page.inner_text("main")
            seen["honour"] = page.inner_text("#honour-times")
            page.screenshot(path=str(shots / "overview.png"), full_page=True)

            # Number lookup by the national spelling, with the keyboard.
            page.get_by_role("link", name="Number lookup").click()
            page.get_by_label("Number").fill(NATIONAL)
            page.get_by_label("Number").press("Enter")
            page.wait_for_selector("#history")
            seen["lookup_history"] = page.inner_text("section[aria-labelledby=history]")
            seen["lookup_blocked"] = page.inner_text("section[aria-labelledby=blocked]")
            seen["lookup_heading"] = page.inner_text("main h2")
            seen["lookup_stop_address"] = page.inner_text(
                "section[aria-labelledby=history] tr.ev-opt_out td.address"
            )
            seen["lookup_stop_webhooks"] = _marks(page, "section[aria-labelledby=history] tr.ev-opt_out")
            seen["lookup_blocked_webhooks"] = _marks(page, "section[aria-labelledby=blocked] tr.ev-blocked")
            seen["lookup_columns"] = page.locator("section[aria-labelledby=history] th").all_inner_texts()
            page.screenshot(path=str(shots / "number-lookup.png"), full_page=True)
            lookup_url = page.url

            # Suppression list; the CSV export.
            page.get_by_role("link", name="Suppression list").click()
            page.screenshot(path=str(shots / "suppression-list.png"), full_page=True)
            with page.expect_download() as download:
                page.get_by_role("link", name="Export CSV").click()
            seen["csv"] = Path(download.value.path()).read_text()

            # Remove the opt-out: a reason is required.
            page.get_by_role("link", name=f"Remove +{NUMBER} from acme").click()
            page.screenshot(path=str(shots / "remove.png"), full_page=True)
            page.get_by_role("button", name="Remove the opt-out").click()
            seen["reason_required"] = page.evaluate("document.querySelector('#reason').validity.valueMissing")
            page.get_by_label("Reason (required, recorded in the audit log)").fill(
                "Subscriber asked by phone"
            )
            page.get_by_role("button", name="Remove the opt-out").click()
            page.wait_for_url("**/ui/suppressions?**")
            seen["removed"] = page.inner_text("[role=status]")

            # Upstreams and routes.
            page.get_by_role("link", name="Upstreams and routes").click()
            page.wait_for_selector("#upstream-sim")
            seen["upstreams"] = page.inner_text("#upstream-sim")
            seen["routes"] = page.inner_text("section[aria-labelledby=routes]")
            page.screenshot(path=str(shots / "upstreams.png"), full_page=True)

            # Audit export as JSON lines.
            page.get_by_role("link", name="Audit export").click()
            page.screenshot(path=str(shots / "audit-export.png"), full_page=True)
            with page.expect_download() as download:
                page.get_by_role("button", name="Download").click()
            seen["jsonl"] = Path(download.value.path()).read_text()

            # Phone width: the overview still fits (no sideways scrolling of the page).
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.add_cookies([cookie])
            small = phone.new_page()
            small.goto(f"{base}/ui/")
            small.wait_for_selector("#chart-events canvas")
            seen["phone_overflow"] = small.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            small.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
            small.goto(lookup_url)
            small.wait_for_selector("#history")
            seen["phone_lookup_overflow"] = small.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            seen["phone_stop_webhooks"] = _marks(small, "section[aria-labelledby=history] tr.ev-opt_out")
            small.screenshot(path=str(shots / "number-lookup-phone.png"), full_page=True)
            phone.close()

            # Sign out: the cookie no longer opens a page.
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{base}/ui/sign-in")
            page.goto(f"{base}/ui/")
            seen["after_sign_out"] = page.url

            # A viewer reads but may not change the list.
            viewer = browser.new_context()
            vpage = viewer.new_page()
            _sign_in(vpage, base, VICTOR)
            vpage.goto(f"{base}/ui/suppressions")
            seen["viewer_sees_remove"] = vpage.get_by_role("link", name="Remove…").count()
            answer = vpage.goto(f"{base}/ui/suppressions/remove?number={NUMBER}&scope=acme")
            assert answer is not None
            seen["viewer_remove_status"] = answer.status
            seen["viewer_remove_text"] = vpage.inner_text("main")
            csrf = vpage.eval_on_selector("input[name=csrf]", "e => e.value")
            posted = vpage.request.post(
                f"{base}/ui/suppressions/add",
                form={"csrf": csrf, "number": NUMBER, "scope": "acme", "reason": "viewer tries"},
            )
            seen["viewer_add_status"] = posted.status
            answer = vpage.goto(f"{base}/ui/upstreams")
            assert answer is not None
            seen["viewer_upstreams"] = (answer.status, vpage.inner_text("#upstream-agg"))
            viewer.close()

            # Wrong tokens: refused, then rate-limited (even the right token must wait).
            wrong = browser.new_context()
            wpage = wrong.new_page()
            statuses = []
            for attempt in range(6):
                wpage.goto(f"{base}/ui/sign-in")
                wpage.get_by_label("Admin token").fill(ALICE if attempt == 5 else f"wrong-{attempt}")
                with wpage.expect_response(lambda r: r.request.method == "POST") as answer_info:
                    wpage.get_by_role("button", name="Sign in").click()
                statuses.append(answer_info.value.status)
                if attempt == 5:
                    seen["limited_retry_after"] = answer_info.value.headers.get("retry-after")
                    seen["limited_text"] = wpage.inner_text("main")
                    wpage.screenshot(path=str(shots / "sign-in-rate-limited.png"))
            seen["wrong_statuses"] = statuses
            wrong.close()
        finally:
            browser.close()
    return seen


async def test_console_in_a_browser(tmp_path: Path, httpserver: HTTPServer) -> None:
    _need_browser()
    async with running_stack(tmp_path, {**CONFIG, "webhook": _webhooks(httpserver)}) as stack:
        admin = stack.app.admin
        assert isinstance(admin, AdminServer) and admin.port
        # The proxy's upstream status, as a pooled proxy reports it (the page renders the snapshot).
        admin.console.upstreams = FakeProxy().upstream_status
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        try:
            sent = await to_thread.run_sync(lambda: esme.submit(NUMBER, "Spring sale", service_type="sprng"))
            assert sent.status == CommandStatus.ESME_ROK
            resp = await stack.smsc.deliver(source_addr=NUMBER, destination_addr="88088", text="Stop please")
            assert resp.command_status == CommandStatus.ESME_ROK
            blocked = await to_thread.run_sync(
                lambda: esme.submit(NUMBER, "Last chance", service_type="sprng")
            )
            assert blocked.status == CommandStatus.ESME_RSUBMITFAIL
        finally:
            esme.close()
        store = stack.app.store
        assert store is not None
        # Wait for delivery to settle: crm past the STOP, ledger's STOP dead-lettered (archive retries on).
        stop = (await store.events(types=[EventType.OPT_OUT]))[0].id
        assert stop is not None
        with anyio.fail_after(30):
            while (await store.webhook_state("crm")).cursor < stop or not (
                await store.webhook_state("ledger")
            ).dead_letters:
                await anyio.sleep(0.05)
        seen = await to_thread.run_sync(_browse, f"http://127.0.0.1:{admin.port}", tmp_path)

        assert seen["cookie"]["httpOnly"] and seen["cookie"]["sameSite"] == "Strict"
        assert seen["chart_drawn"]
        assert "STOP" in seen["overview"] and "Opt-out rate per campaign" in seen["overview"]
        assert seen["lookup_heading"] == f"+{NUMBER}"
        assert "opt out" in seen["lookup_history"] and "Stop please" in seen["lookup_history"]
        assert "STOP" in seen["lookup_history"]
        assert seen["lookup_stop_address"] == "88088"  # the short code the subscriber texted
        assert seen["lookup_columns"][-1] == "Webhooks"
        # Symbols come with words: "✓" is read (and copied) as "delivered".
        marks = seen["lookup_stop_webhooks"]
        assert marks == ["crm ✓ delivered", "ledger dead-lettered", "archive pending"], marks
        assert seen["lookup_blocked_webhooks"] == ["archive pending"]  # crm and ledger do not want blocks
        assert seen["phone_lookup_overflow"] <= 0
        assert seen["phone_stop_webhooks"] == marks
        assert "p50" in seen["honour"] and "p99" in seen["honour"] and "ms" in seen["honour"]
        assert seen["upstreams"].split("\t")[:2] == ["sim", "bound"] and "12.5 / 50" in seen["upstreams"]
        assert "No route table" in seen["routes"] and "acme" in seen["routes"]
        assert seen["viewer_upstreams"][0] == 200 and "half-open" in seen["viewer_upstreams"][1]
        assert "blocked" in seen["lookup_blocked"]
        rows = list(csv.DictReader(io.StringIO(seen["csv"])))
        assert [(r["number"], r["scope"], r["keyword"]) for r in rows] == [(f"+{NUMBER}", "acme", "STOP")]
        assert seen["reason_required"]
        assert "removed" in seen["removed"]
        records = [json.loads(line) for line in seen["jsonl"].splitlines()]
        types = [r["type"] for r in records]
        assert {"opt_out", "blocked", "admin_remove"} <= set(types)
        removal = next(r for r in records if r["type"] == "admin_remove")
        assert removal["operator"] == "api:alice" and removal["reason"] == "Subscriber asked by phone"
        assert seen["phone_overflow"] <= 0
        assert seen["after_sign_out"].startswith(f"http://127.0.0.1:{admin.port}/ui/sign-in")
        assert seen["viewer_sees_remove"] == 0
        assert seen["viewer_remove_status"] == 403 and "viewer" in seen["viewer_remove_text"]
        assert seen["viewer_add_status"] == 403
        assert seen["wrong_statuses"] == [401, 401, 401, 401, 401, 429]
        assert seen["limited_retry_after"] and int(seen["limited_retry_after"]) > 0
        assert "Too many wrong tokens" in seen["limited_text"]
        # The store saw the viewer change nothing, and the admin's removal once.
        removals = await store.events(types=[EventType.ADMIN_REMOVE, EventType.ADMIN_ADD])
        assert [(e.type, e.operator) for e in removals] == [(EventType.ADMIN_REMOVE, "api:alice")]


def test_chromium_is_debians() -> None:
    """The tests drive the system chromium; Playwright never downloads a browser."""
    _need_browser()
    assert shutil.which("chromium") == CHROMIUM or os.path.exists(CHROMIUM)
