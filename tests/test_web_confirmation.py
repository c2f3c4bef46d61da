"""``web_confirmation`` after a web opt-out while no ESME of the account is bound (issue 16): it goes
out through the proxy's own service bind to the account's upstream, not dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.store import EventType
from tests.esme import Esme
from tests.stack import running_stack
from tests.test_web_optout import NUMBER, WEB, base_url, csrf_of, make_link

pytestmark = pytest.mark.anyio

OVERRIDE: dict[str, Any] = {
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


async def opt_out_on_the_page(base: str, token: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get(f"/u/{token}")
        done = await client.post(f"/u/{token}", data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200


async def test_confirmation_goes_through_the_service_bind_when_no_session_is_bound(tmp_path: Path) -> None:
    async with running_stack(tmp_path, OVERRIDE) as stack:
        assert stack.app.proxy is not None and not stack.app.proxy.sessions
        token = await make_link(stack)
        await opt_out_on_the_page(base_url(stack), token)
        (sent,) = await stack.smsc.wait_for_submits(1)
        assert sent.text == "You will get no more offers."
        assert sent.pdu.destination_addr == NUMBER.lstrip("+") and sent.pdu.source_addr == "88088"
        assert sent.system_id == "proxy"  # the upstream account the proxy binds with
        events = await stack.app.store.events(number=NUMBER, types=[EventType.CONFIRMATION_SENT])
        assert len(events) == 1 and events[0].reason == "web_opt_out"
        assert events[0].message_ids == (sent.message_id,)


async def test_confirmation_to_a_receiver_only_esme_goes_through_the_service_bind(tmp_path: Path) -> None:
    async with running_stack(tmp_path, OVERRIDE) as stack:
        esme = Esme(stack.port, system_id="acme", password="acmepw")
        await anyio.to_thread.run_sync(esme.bind, "rx")
        try:
            token = await make_link(stack)
            await opt_out_on_the_page(base_url(stack), token)
            (sent,) = await stack.smsc.wait_for_submits(1)
            assert sent.text == "You will get no more offers."
            events = await stack.app.store.events(number=NUMBER, types=[EventType.CONFIRMATION_SENT])
            assert len(events) == 1
        finally:
            esme.close()
