"""``{optout_url}`` on a submit_multi: each recipient gets a submit_sm with a link of its own (issue 16).

A raw SMPP client sends the submit_multi through a real proxy to the simulated SMSC (smpplib has no
submit_multi); a receiver-bound smpplib ESME takes the receipts.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandStatus
from gateway.smpp.fields import Dest
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import (
    BindTransceiver,
    DeliverSm,
    Pdu,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    make_response,
)
from tests.stack import Stack, running_stack
from tests.test_footer_link_e2e import LINK, override
from tests.test_optout_e2e import NUMBER, bound, mo

pytestmark = pytest.mark.anyio
S = CommandStatus
OTHERS = ("447700900998", "447700900999")


async def send_multi(stack: Stack, multi: SubmitMulti, receipts: int = 0) -> tuple[Pdu, list[DeliverSm]]:
    """Bind a raw transceiver, send ``multi``; its response and the first ``receipts`` deliver_sm."""
    frames = FrameBuffer()
    async with await anyio.connect_tcp("127.0.0.1", stack.port) as stream:
        await stream.send(encode(BindTransceiver(sequence_number=1, system_id="acme", password="acmepw")))
        got: list[Pdu] = []
        delivered: list[DeliverSm] = []
        with anyio.fail_after(10):
            while not any(p.sequence_number == 2 for p in got) or len(delivered) < receipts:
                if len(got) == 1:
                    await stream.send(encode(multi))  # only once bound
                frames.feed(await stream.receive())
                for pdu in map(decode, frames.frames()):
                    if isinstance(pdu, DeliverSm):
                        delivered.append(pdu)
                        await stream.send(encode(make_response(pdu)))
                    else:
                        got.append(pdu)
    (resp,) = [p for p in got if p.sequence_number == 2]
    return resp, delivered


def multi(*dests: Dest, **kw: Any) -> SubmitMulti:
    return SubmitMulti(sequence_number=2, source_addr="ACME", dests=dests, short_message=b"Sale", **kw)


async def test_each_recipient_gets_its_own_link_and_one_answer_lists_the_refused(tmp_path: Path) -> None:
    async with running_stack(tmp_path, override()) as stack:
        esme = await bound(stack, "rx")  # a receiver, so the STOP below has somewhere to go
        await mo(stack, "STOP")
        dests = [Dest(1, 1, 1, NUMBER), *(Dest(1, 1, 1, n) for n in OTHERS), Dest(2, 0, 0, "friends")]
        resp, _ = await send_multi(stack, multi(*dests, service_type="promo"))
        assert isinstance(resp, SubmitMultiResp) and resp.command_status == S.ESME_ROK
        assert resp.message_id
        assert [(u.address, u.status) for u in resp.unsuccess_smes] == [(NUMBER, S.ESME_RSUBMITFAIL)]
        await stack.smsc.wait_for_submits(3)
        singles = [r for r in stack.smsc.received if isinstance(r.pdu, SubmitSm) and r.source_addr == "ACME"]
        assert sorted(r.destination_addr for r in singles) == sorted(OTHERS)
        tokens = {}
        for r in singles:
            assert r.text.startswith("Sale ")
            match = LINK.search(r.text)
            assert match, r.text
            tokens[r.destination_addr] = match.group(1)
        assert len(set(tokens.values())) == 2
        assert stack.app.tokens is not None
        await stack.app.tokens.flush()
        for number, token in tokens.items():
            stored = await stack.app.store.web_token(token)
            assert stored is not None
            assert (stored.number, stored.account, stored.campaign) == ("+" + number, "acme", "promo")
        # A distribution list has no number to link: it stays a submit_multi, without the placeholder.
        (listed,) = [r for r in stack.smsc.received if isinstance(r.pdu, SubmitMulti)]
        assert listed.destinations == ("friends",)
        assert "{optout_url}" not in listed.text and "/u/" not in listed.text
        esme.close()


async def test_a_recipient_the_smsc_refuses_is_listed_and_the_others_go(tmp_path: Path) -> None:
    async with running_stack(tmp_path, override()) as stack:
        stack.smsc.fail_next(1, S.ESME_RINVDSTADR)
        resp, _ = await send_multi(stack, multi(*(Dest(1, 1, 1, n) for n in OTHERS)))
        assert isinstance(resp, SubmitMultiResp) and resp.command_status == S.ESME_ROK
        assert [u.status for u in resp.unsuccess_smes] == [S.ESME_RINVDSTADR]
        assert resp.unsuccess_smes[0].address in OTHERS
        accepted = [r for r in await stack.smsc.wait_for_submits(2) if r.accepted]
        assert [r.destination_addr for r in accepted] == [
            n for n in OTHERS if n != resp.unsuccess_smes[0].address
        ]


async def test_all_refused_for_one_reason_answers_with_that_status(tmp_path: Path) -> None:
    async with running_stack(tmp_path, override()) as stack:
        stack.smsc.fail_next(2, S.ESME_RTHROTTLED)
        resp, _ = await send_multi(stack, multi(*(Dest(1, 1, 1, n) for n in OTHERS)))
        assert resp.command_status == S.ESME_RTHROTTLED


async def test_receipts_of_every_recipient_carry_the_one_id_the_esme_was_given(tmp_path: Path) -> None:
    async with running_stack(tmp_path, override()) as stack:
        many = multi(*(Dest(1, 1, 1, n) for n in OTHERS), registered_delivery=1)
        resp, receipts = await send_multi(stack, many, receipts=2)
        assert isinstance(resp, SubmitMultiResp) and not resp.unsuccess_smes
        ids = [re.search(rb"id:(\w+)", r.short_message) for r in receipts]
        assert [m.group(1).decode() if m else None for m in ids] == [resp.message_id] * 2
        assert sorted(r.source_addr for r in receipts) == sorted(OTHERS)


def test_a_recipient_submit_keeps_the_message_fields() -> None:
    from gateway.optout.multi import recipient_submit

    many = replace(multi(), registered_delivery=1, data_coding=8)
    sm = recipient_submit(many, Dest(1, 1, 1, "447700900998"))
    assert (sm.destination_addr, sm.registered_delivery, sm.data_coding, sm.short_message) == (
        "447700900998",
        1,
        8,
        b"Sale",
    )
