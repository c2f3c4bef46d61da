"""SIGHUP reload applies ``[[webhook]]``, ``[web]`` and ``require_consent`` without a restart (issue 16)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpserver import HTTPServer

from gateway.app import App
from gateway.smpp.constants import CommandStatus
from gateway.store.model import Channel, Consent
from tests.config_file import config_data, running_file_stack
from tests.test_optout_e2e import E164, bound, mo, submit
from tests.test_reload import with_account
from tools.config_toml import to_toml

pytestmark = pytest.mark.anyio

OVERRIDE: dict[str, Any] = {"session": {"shutdown_grace": 0.5}}
WEB = {"public_url": "https://stop.example.com", "listen": "127.0.0.1:0"}
LINK = re.compile(r"https://(?:stop|go)\.example\.com/u/([0-9A-Za-z]{12})")


async def reload_with(app: App, path: Path, smsc_port: int, **changes: Any) -> None:
    """Write the test config with ``changes`` (top-level sections, or ``acme`` account fields), reload,
    and wait until the integrations' changes are in force."""
    acme = changes.pop("acme", {})
    data = with_account(config_data(smsc_port, {**OVERRIDE, **changes}), "acme", **acme)
    path.write_text(to_toml(data), encoding="utf-8")
    before = app.integrations_reloaded
    assert app.reload() is True
    with anyio.fail_after(10):
        while app.integrations_reloaded == before:
            await anyio.sleep(0.02)


async def test_reload_adds_changes_and_removes_a_webhook(tmp_path: Path, httpserver: HTTPServer) -> None:
    got: list[dict[str, Any]] = []

    def receiver(request: Any) -> Any:
        from werkzeug import Response

        got.append({"path": request.path, **json.loads(request.data)})
        return Response("ok")

    httpserver.expect_request("/a", method="POST").respond_with_handler(receiver)
    httpserver.expect_request("/b", method="POST").respond_with_handler(receiver)
    hook = {"url": httpserver.url_for("/a"), "events": ["opt_out", "opt_in"], "secret": "s3cret"}
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, path):
        port = stack.smsc.port
        esme = await bound(stack)
        await reload_with(stack.app, path, port, webhook=[hook])
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        with anyio.fail_after(10):
            while not got:
                await anyio.sleep(0.05)
        assert (got[0]["path"], got[0]["type"], got[0]["number"]) == ("/a", "opt_out", E164)
        # A new URL (same cursor name): later events go there.
        await reload_with(
            stack.app, path, port, webhook=[{**hook, "url": httpserver.url_for("/b"), "name": "crm"}]
        )
        assert await mo(stack, "START") == CommandStatus.ESME_ROK
        with anyio.fail_after(10):
            while not any(g["path"] == "/b" and g["type"] == "opt_in" for g in got):
                await anyio.sleep(0.05)
        # Removed: nothing more is sent.
        await reload_with(stack.app, path, port)
        sent = len(got)
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        await anyio.sleep(1.0)
        assert len(got) == sent
        esme.close()


async def test_reload_starts_moves_and_stops_the_web_page(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, path):
        app, port = stack.app, stack.smsc.port
        assert app.web is None
        footer = {"footer": "Opt out: {optout_url}"}
        await reload_with(app, path, port, web=WEB, acme=footer)
        esme = await bound(stack)
        assert (await submit(esme, text="Sale")).status == CommandStatus.ESME_ROK
        (first,) = await stack.smsc.wait_for_submits(1)
        match = LINK.search(first.text)
        assert match and first.text.startswith("Sale Opt out: https://stop.example.com/u/"), first.text
        assert app.web is not None and app.tokens is not None
        old_port = app.web.port
        async with httpx.AsyncClient() as client:
            with anyio.fail_after(5):
                while (
                    await client.get(f"http://127.0.0.1:{old_port}/u/{match.group(1)}")
                ).status_code != 200:
                    await anyio.sleep(0.1)  # served once its batch is stored
        # A new public URL and listener: new links use it, the new port serves the earlier link.
        await reload_with(app, path, port, web={**WEB, "public_url": "https://go.example.com"}, acme=footer)
        assert app.web is not None and app.web.port != old_port
        assert (await submit(esme, text="More")).status == CommandStatus.ESME_ROK
        second = (await stack.smsc.wait_for_submits(2))[1]
        assert second.text.startswith("More Opt out: https://go.example.com/u/"), second.text
        new_match = LINK.search(second.text)
        assert new_match
        async with httpx.AsyncClient() as client:
            assert (
                await client.get(f"http://127.0.0.1:{app.web.port}/u/{match.group(1)}")
            ).status_code == 200
            with anyio.fail_after(5):
                while (
                    await client.get(f"http://127.0.0.1:{app.web.port}/u/{new_match.group(1)}")
                ).status_code != 200:
                    await anyio.sleep(0.1)
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{old_port}/u/{match.group(1)}")
        # Off again (the footer without a link first: a link needs the page).
        await reload_with(app, path, port, acme={"footer": "Reply STOP to opt out"})
        assert app.web is None and app.tokens is None
        esme.close()


async def test_reload_turns_require_consent_on_and_off(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, path):
        app, port = stack.app, stack.smsc.port
        esme = await bound(stack)
        block_status = app.config.accounts["acme"].optout.block_status
        assert (await submit(esme)).status == CommandStatus.ESME_ROK
        await reload_with(app, path, port, acme={"require_consent": True})
        assert (await submit(esme)).status == block_status
        await app.store.add_consent(Consent(scope="acme", number=E164, source="api"), channel=Channel.API)
        with anyio.fail_after(5):
            while (await submit(esme)).status != CommandStatus.ESME_ROK:
                await anyio.sleep(0.2)  # the consent index follows the log
        other = "447700900777"
        assert (await submit(esme, destination=other)).status == block_status
        await reload_with(app, path, port, acme={"require_consent": False})
        assert (await submit(esme, destination=other)).status == CommandStatus.ESME_ROK
        esme.close()


async def test_reload_of_the_rate_limit_restarts_the_page_on_the_same_port(tmp_path: Path) -> None:
    from tools.ports import free_port

    web = {**WEB, "listen": f"127.0.0.1:{free_port()}", "rate_limit": 1000}
    async with running_file_stack(tmp_path, {**OVERRIDE, "web": web}) as (stack, path):
        app = stack.app
        assert app.web is not None
        port = app.web.port
        url = f"http://127.0.0.1:{port}/u/AAAAAAAAAAAA"
        async with httpx.AsyncClient() as client:
            assert [(await client.get(url)).status_code for _ in range(3)] == [404] * 3
            await reload_with(app, path, stack.smsc.port, web={**web, "rate_limit": 1})
            assert app.web is not None and app.web.port == port
            assert [(await client.get(url)).status_code for _ in range(2)] == [404, 429]
