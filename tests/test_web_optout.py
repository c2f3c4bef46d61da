"""The public web-link opt-out over real HTTP against a running stack (issue 16).

A plain GET (what link scanners and previews do) never opts out; only the page's POST with its CSRF
value does, once; the proxy then blocks marketing to the number.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.ops.web import new_token
from gateway.ops.web.guard import RateLimit
from gateway.store import Channel, EventType, WebToken
from gateway.store.model import utcnow
from tests.esme import Esme
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.anyio

NUMBER = "+447700900401"
WEB: dict[str, Any] = {
    "web": {"public_url": "https://stop.example.com", "listen": "127.0.0.1:0", "rate_limit": 1000},
    "session": {"shutdown_grace": 0.5},
}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, WEB) as s:
        yield s


def base_url(stack: Stack) -> str:
    assert stack.app.web is not None and stack.app.web.port
    return f"http://127.0.0.1:{stack.app.web.port}"


async def make_link(stack: Stack, *, days: int = 1) -> str:
    """A token for NUMBER in scope acme, issued and flushed the way the submit path will."""
    issuer = stack.app.tokens
    assert issuer is not None
    url = issuer.issue("acme", NUMBER, "acme", "spring")
    await issuer.flush()
    assert url.startswith("https://stop.example.com/u/")
    return url.rsplit("/", 1)[1]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_tokens_are_short_random_and_numberless() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9]{12}", t) for t in tokens)
    assert not any("7700900401" in t for t in tokens)


def test_rate_limit_per_ip() -> None:
    limit = RateLimit(3)
    assert [limit.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b", now=0.0)
    assert limit.allow("a", now=20.0)  # one request back every 20 s


async def test_get_changes_nothing_post_opts_out_once(stack: Stack) -> None:
    token = await make_link(stack)
    store = stack.app.store
    async with httpx.AsyncClient(base_url=base_url(stack)) as client:
        for _ in range(3):  # a link scanner, a preview, the subscriber looking
            page = await client.get(f"/u/{token}")
            assert page.status_code == 200
            assert "+447*******01" in page.text and NUMBER not in page.text
        assert await store.get_suppression("acme", NUMBER) is None
        # A POST without the page's CSRF value (another site, a bot) is refused.
        forged = await client.post(f"/u/{token}", data={"csrf": "x.y"})
        assert forged.status_code == 403
        assert await store.get_suppression("acme", NUMBER) is None
        done = await client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200 and "is opted out" in done.text
        again = await client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
        assert "was already opted out" in again.text
        answer = await client.post(
            f"/u/{token}/reason", data={"csrf": csrf_of(done.text), "reason": "too_many"}
        )
        assert answer.status_code == 200
    events = await store.events(number=NUMBER)
    assert [e.type for e in events] == [EventType.OPT_OUT, EventType.OPTOUT_REASON]
    opt_out = events[0]
    assert (opt_out.channel, opt_out.account, opt_out.campaign) == (Channel.WEB, "acme", "spring")
    assert opt_out.text is not None and token in opt_out.text and "127.0.0.1" in opt_out.text
    assert events[1].reason == "too_many"
    # The proxy blocks marketing to the number at once.
    esme = Esme(stack.port, system_id="acme", password="acmepw")
    await anyio.to_thread.run_sync(esme.bind)
    try:
        resp = await anyio.to_thread.run_sync(esme.submit, NUMBER.lstrip("+"), "Sale!")
        assert resp.status != 0
    finally:
        esme.close()


async def test_unknown_expired_and_rate_limited(stack: Stack, tmp_path: Path) -> None:
    expired = WebToken(token=new_token(), scope="acme", number=NUMBER, expires=utcnow() - timedelta(days=1))
    await stack.app.store.add_web_tokens([expired])
    async with httpx.AsyncClient(base_url=base_url(stack)) as client:
        unknown = await client.get("/u/AAAAAAAAAAAA")
        assert unknown.status_code == 404 and "not valid" in unknown.text
        gone = await client.get(f"/u/{expired.token}")
        assert gone.status_code == 410 and "expired" in gone.text
        assert (await client.post(f"/u/{expired.token}", data={})).status_code == 410
    assert stack.app.web is not None
    stack.app.web.app.limit = RateLimit(2)
    async with httpx.AsyncClient(base_url=base_url(stack)) as client:
        codes = [(await client.get("/u/AAAAAAAAAAAA")).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


async def test_web_confirmation_is_sent_through_a_bound_session(tmp_path: Path) -> None:
    override = {
        **WEB,
        "account": [
            {
                "system_id": "acme",
                "password": "acmepw",
                "upstream": "sim",
                "scope": "acme",
                "web_confirmation": "You will get no more offers.",
                "web_confirmation_from": "88088",
            }
        ],
    }
    async with running_stack(tmp_path, override) as stack:
        esme = Esme(stack.port, system_id="acme", password="acmepw")
        await anyio.to_thread.run_sync(esme.bind)
        try:
            token = await make_link(stack)
            async with httpx.AsyncClient(base_url=base_url(stack)) as client:
                page = await client.get(f"/u/{token}")
                done = await client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
                assert done.status_code == 200
                (sent,) = await stack.smsc.wait_for_submits(1)
                assert sent.text == "You will get no more offers."
                assert sent.pdu.destination_addr == NUMBER.lstrip("+") and sent.pdu.source_addr == "88088"
                again = await client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
                assert "was already opted out" in again.text
            events = await stack.app.store.events(number=NUMBER, types=[EventType.CONFIRMATION_SENT])
            assert len(events) == 1 and events[0].reason == "web_opt_out"
        finally:
            esme.close()
