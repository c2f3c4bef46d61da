"""The misrouting case in pooled mode (issue 14): two accounts with different scopes share one
upstream; MOs and receipts arrive on Stopgate's own pool binds, which belong to no ESME session.

A STOP to acme's short code is recorded in acme's scope, reaches acme's ESME, is confirmed through
the upstream it came from, and blocks acme's next marketing submit; a receipt for acme's message
reaches acme with acme's id, never the other account."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus, EsmClass
from tests.pool_stack import PoolStack, pooled_stack
from tests.stack import BASE

S = CommandStatus
NUMBER = "447700900401"
E164 = "+" + NUMBER
ACME_CODE = "60006"
ROUTES = [{"name": "default", "upstreams": ["a"]}]


def accounts() -> list[dict[str, object]]:
    out = [dict(a, upstream="a") for a in BASE["account"]]
    out[0]["numbers"] = [ACME_CODE]
    out[2]["scope"] = "other"
    return out


async def mo(stack: PoolStack, text: str, destination: str = ACME_CODE) -> int:
    resp = await stack.smscs["a"].deliver(source_addr=NUMBER, destination_addr=destination, text=text)
    return int(resp.command_status)


async def receipt(stack: PoolStack, message_id: str) -> int:
    resp = await stack.smscs["a"].deliver(
        source_addr=NUMBER,
        destination_addr="ACME",
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        text=f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD",
    )
    return int(resp.command_status)


@pytest.mark.anyio
async def test_stop_and_receipts_on_pool_binds_reach_the_right_account(tmp_path: Path) -> None:
    override = {"account": accounts()}
    async with pooled_stack(tmp_path, ROUTES, upstreams={"a": {"binds": 2}}, override=override) as stack:
        store = stack.app.store
        other = await stack.esme("other", "otherpw", "trx")
        acme_tx = await stack.esme("acme", "acmepw", "tx")
        try:
            # No acme receiver yet: the STOP is committed in acme's scope, the SMSC asked to redeliver.
            assert await mo(stack, "STOP") == S.ESME_RX_T_APPN
            assert await store.get_suppression("acme", E164) is not None
            assert await store.get_suppression("other", E164) is None
            refused = await to_thread.run_sync(lambda: acme_tx.submit(NUMBER, b"Big sale"))
            assert refused.status == S.ESME_RSUBMITFAIL
            sent = await to_thread.run_sync(lambda: other.submit(NUMBER, b"Other news"))
            assert sent.status == S.ESME_ROK  # another scope
            # The confirmation left through the upstream the STOP came from.
            await stack.smscs["a"].wait_until(
                lambda: any(
                    b"unsubscribed" in r.pdu.short_message for r in stack.smscs["a"].submits_to(NUMBER)
                )
            )

            acme = await stack.esme("acme", "acmepw", "trx")
            try:
                for _ in range(3):  # whichever pool bind the simulator picks
                    assert await mo(stack, "STOP") == S.ESME_ROK
                delivered = await to_thread.run_sync(acme.wait_delivered, 3)
                assert [d.short_message for d in delivered] == [b"STOP"] * 3

                resp = await to_thread.run_sync(lambda: acme.submit("447700900999", b"Your order shipped"))
                assert resp.status == S.ESME_ROK
                message_id = resp.message_id.decode()
                for _ in range(2):
                    assert await receipt(stack, message_id) == S.ESME_ROK
                await to_thread.run_sync(acme.wait_delivered, 5)
                receipts = [d for d in acme.delivered if d.esm_class & 0x04]
                assert [r.short_message.split()[0] for r in receipts] == [f"id:{message_id}".encode()] * 2
                # A receipt for an id nobody here sent: the SMSC is asked to redeliver.
                assert await receipt(stack, "a-unknown") == S.ESME_RX_T_APPN
                await anyio.sleep(0.2)
                assert other.delivered == []
            finally:
                acme.close()
        finally:
            other.close()
            acme_tx.close()


@pytest.mark.anyio
async def test_unrouted_mos_default_account_or_answered(tmp_path: Path) -> None:
    override = {"account": accounts(), "mo": {"default_account": "other"}}
    async with pooled_stack(tmp_path, ROUTES, override=override) as stack:
        other = await stack.esme("other", "otherpw", "rx")
        try:
            assert await mo(stack, "hello", destination="70000") == S.ESME_ROK
            delivered = await to_thread.run_sync(other.wait_delivered, 1)
            assert delivered[0].short_message == b"hello"
        finally:
            other.close()
    async with pooled_stack(tmp_path, ROUTES, override={"account": accounts()}) as stack:
        other = await stack.esme("other", "otherpw", "rx")
        try:
            # Three accounts share upstream a and no rule names 70000: answered, logged, not delivered.
            assert await mo(stack, "hello", destination="70000") == S.ESME_ROK
            await anyio.sleep(0.2)
            assert other.delivered == []
        finally:
            other.close()


@pytest.mark.anyio
async def test_a_receipt_after_a_restart_reaches_the_sender_through_the_store(tmp_path: Path) -> None:
    override = {"account": accounts(), "mo": {"route_receipts": True}}
    async with pooled_stack(tmp_path, ROUTES, upstreams={"a": {"binds": 2}}, override=override) as stack:
        acme = await stack.esme("acme", "acmepw", "tx")
        try:
            resp = await to_thread.run_sync(lambda: acme.submit("447700900999", b"Your order shipped"))
            assert resp.status == S.ESME_ROK
            message_id = resp.message_id.decode()
        finally:
            acme.close()
    # A new process on the same store: nothing in memory, the store's receipt routes know the sender.
    async with pooled_stack(tmp_path, ROUTES, upstreams={"a": {"binds": 2}}, override=override) as stack:
        other = await stack.esme("other", "otherpw", "rx")
        acme = await stack.esme("acme", "acmepw", "rx")
        try:
            assert await receipt(stack, message_id) == S.ESME_ROK
            delivered = await to_thread.run_sync(acme.wait_delivered, 1)
            assert delivered[0].short_message.split()[0] == f"id:{message_id}".encode()
            assert other.delivered == []
        finally:
            other.close()
            acme.close()
