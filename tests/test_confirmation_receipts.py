"""Receipts the SMSC sends unrequested for Stopgate's own confirmations never reach the ESME (issue 18
item 8): smpplib → Stopgate → the simulated SMSC with ``receipts=True`` (a receipt for every submit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus
from tests.esme import Esme
from tests.stack import running_stack
from tools.smsc_sim import SimulatedSmsc

pytestmark = pytest.mark.anyio

NUMBER = "447700900401"
SHORT_CODE = "88088"


async def test_receipts_for_confirmations_are_answered_and_dropped(tmp_path: Path) -> None:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, receipts=True)
    async with running_stack(tmp_path, smsc=smsc) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        resp = await smsc.deliver(source_addr=NUMBER, destination_addr=SHORT_CODE, text="STOP")
        assert resp.command_status == CommandStatus.ESME_ROK
        await smsc.wait_until(lambda: any(r.source_addr == SHORT_CODE for r in smsc.received))
        # The confirmation's receipt was sent, and answered ESME_ROK by Stopgate itself.
        await smsc.wait_until(lambda: smsc.counters["receipts_acked"] == 1)
        # The ESME's own message still gets its (unrequested) receipt: receipts do flow.
        submit = await to_thread.run_sync(lambda: esme.submit("447700900402", "Hello"))
        assert submit.status == 0
        delivered = await to_thread.run_sync(esme.wait_delivered, 2)
        assert delivered[0].short_message == b"STOP"  # the MO
        assert submit.message_id in delivered[1].short_message  # its own receipt, not the confirmation's
        await smsc.wait_until(lambda: smsc.counters["receipts_acked"] == 2)
        assert len(esme.delivered) == 2
        esme.close()
