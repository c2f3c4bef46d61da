"""A keyword opt-in through the proxy records consent with the MO text; an opt-out ends it (issue 16)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gateway.smpp.constants import CommandStatus
from gateway.store.model import Channel, Consent, EventType
from tests.stack import running_stack
from tests.test_optout_e2e import E164, accounts, bound, mo, submit

pytestmark = pytest.mark.anyio


async def test_join_keyword_records_consent_and_stop_ends_it(tmp_path: Path) -> None:
    override = accounts(keywords={"opt_in": ["START", "JOIN"]})
    async with running_stack(tmp_path, override) as stack:
        esme = await bound(stack)
        store = stack.app.store
        assert await mo(stack, "JOIN offers please") == CommandStatus.ESME_ROK
        [consent] = await store.consents("acme", E164)
        assert (consent.source, consent.wording, consent.account) == ("keyword", "JOIN offers please", "acme")
        assert consent.evidence == {"keyword": "JOIN"} and consent.ended is None
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        assert await store.live_consent("acme", E164) is None
        assert await mo(stack, "start") == CommandStatus.ESME_ROK
        live = await store.live_consent("acme", E164)
        assert live is not None and live.wording == "start"
        types = [e.type for e in await store.events(number=E164)]
        assert types.count(EventType.CONSENT) == 2
        esme.close()


async def test_require_consent_refuses_marketing_without_live_consent(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts(require_consent=True)) as stack:
        esme = await bound(stack)
        store = stack.app.store
        block_status = stack.app.config.accounts["acme"].optout.block_status
        refused = await submit(esme)
        assert refused.status == block_status  # refused like a suppressed number
        await stack.smsc.wait_until(lambda: stack.app.metrics.blocked_no_consent["acme"] == 1, timeout=5)
        await store.add_consent(Consent(scope="acme", number=E164, source="api"), channel=Channel.API)
        with anyio.fail_after(5):
            while (await submit(esme)).status != CommandStatus.ESME_ROK:
                await anyio.sleep(0.2)  # the consent index follows the log within a second
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        assert (await submit(esme)).status == block_status
        assert stack.app.metrics.blocked["acme"] >= 1
        assert stack.app.policy is not None
        await stack.app.policy.flush()
        blocked = await store.events(number=E164, types=[EventType.BLOCKED])
        assert blocked[0].reason == "no_consent" and blocked[-1].reason is None
        esme.close()
