"""``footer = "Opt out: {optout_url}"``: each message through the proxy gets a link of its own (issue 16)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gateway.config import ConfigError
from tests.stack import make_config, running_stack
from tests.test_optout_e2e import E164, accounts, bound, submit

pytestmark = pytest.mark.anyio

LINK = re.compile(r"Opt out: https://stop\.example\.com/u/([0-9A-Za-z]{12})$")


def override() -> dict[str, object]:
    return {
        **accounts(footer="Opt out: {optout_url}"),
        "web": {"public_url": "https://stop.example.com", "listen": "127.0.0.1:0"},
    }


async def test_each_message_gets_its_own_link_and_the_link_works(tmp_path: Path) -> None:
    async with running_stack(tmp_path, override()) as stack:
        esme = await bound(stack)
        assert (await submit(esme, text="Big sale today", service_type="promo")).status == 0
        assert (await submit(esme, text="Another sale")).status == 0
        first, second = await stack.smsc.wait_for_submits(2)
        tokens = []
        for received, body in ((first, "Big sale today"), (second, "Another sale")):
            assert received.text.startswith(body + " ")
            match = LINK.search(received.text)
            assert match, received.text
            tokens.append(match.group(1))
        assert tokens[0] != tokens[1]
        assert E164.lstrip("+") not in "".join(tokens)
        assert stack.app.tokens is not None
        await stack.app.tokens.flush()
        stored = await stack.app.store.web_token(tokens[0])
        assert stored is not None
        assert (stored.scope, stored.number, stored.account, stored.campaign) == (
            "acme",
            E164,
            "acme",
            "promo",
        )
        assert stack.app.web is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.app.web.port}") as client:
            page = await client.get(f"/u/{tokens[0]}")
        assert page.status_code == 200 and "+447*******01" in page.text
        esme.close()


async def test_segments_are_counted_on_the_expanded_footer(tmp_path: Path) -> None:
    # 120 + 1 + 48 characters of footer > 160: the placeholder (21) would fit one segment, the link does not.
    text = "x" * 120
    async with running_stack(tmp_path, override()) as stack:
        esme = await bound(stack)
        assert (await submit(esme, text=text)).status == 0
        parts = await stack.smsc.wait_for_submits(2)
        whole = "".join(p.text for p in parts)
        assert LINK.search(whole), whole
        esme.close()


def test_optout_url_needs_web_public_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\{optout_url\} needs \[web\] public_url"):
        make_config(tmp_path, 2775, accounts(footer="Opt out: {optout_url}"))
