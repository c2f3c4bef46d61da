"""The opt-out engine end to end: smpplib → Stopgate → simulated SMSC (issue #3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import to_thread
from prometheus_client import generate_latest

from gateway.smpp.constants import CommandStatus, EsmClass, Tag
from gateway.store.model import EventType, StoreError, utcnow
from gateway.text.udh import concat_udh, parse_concat, split_udh
from tests.esme import Esme
from tests.stack import BASE, Stack, running_stack

pytestmark = pytest.mark.anyio

S = CommandStatus
NUMBER = "447700900401"
E164 = "+" + NUMBER
SHORT_CODE = "88088"
FOOTER = "Reply STOP to opt out"


def accounts(**acme: Any) -> dict[str, Any]:
    out = [dict(a) for a in BASE["account"]]
    out[0].update(acme)
    return {"account": out}


async def bound(stack: Stack, mode: str = "trx", system_id: str = "acme", password: str = "acmepw") -> Esme:
    esme = Esme(stack.port, system_id, password)
    await to_thread.run_sync(esme.bind, mode)
    return esme


async def mo(stack: Stack, text: str | None, source: str = NUMBER, **kw: Any) -> int:
    resp = await stack.smsc.deliver(source_addr=source, destination_addr=SHORT_CODE, text=text, **kw)
    return resp.command_status


async def submit(
    esme: Esme, destination: str = NUMBER, text: str | bytes = "Big sale today", **kw: Any
) -> Any:
    return await to_thread.run_sync(lambda: esme.submit(destination, text, **kw))


def confirmations(stack: Stack) -> list[Any]:
    return [r for r in stack.smsc.received if r.source_addr == SHORT_CODE]


async def test_stop_confirms_once_suppresses_durably_and_blocks_later_submits(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        before_mo = utcnow()
        assert await mo(stack, "Stop.") == S.ESME_ROK
        # Durable before the deliver_sm_resp: the store has it now.
        suppression = await stack.app.store.get_suppression("acme", E164)
        assert suppression is not None and suppression.keyword == "STOP"
        await stack.smsc.wait_until(lambda: len(confirmations(stack)) == 1)
        (confirmation,) = confirmations(stack)
        assert confirmation.destination_addr == NUMBER
        assert confirmation.text == BASE["account"][0]["confirmation"]  # no footer, no marketing
        # The MO still reaches the business's own systems.
        delivered = await to_thread.run_sync(esme.wait_delivered, 1)
        assert delivered[0].short_message == b"Stop."
        before = stack.smsc.submit_count
        resp = await submit(esme)
        assert resp.status == S.ESME_RSUBMITFAIL
        assert stack.smsc.submit_count == before  # nothing reached the SMSC
        # A second STOP within the window gets no second confirmation.
        assert await mo(stack, "STOP") == S.ESME_ROK
        await anyio.sleep(0.3)
        assert len(confirmations(stack)) == 1
        events = await stack.app.store.events(number=E164)
        kinds = [e.type for e in events]
        assert kinds.count(EventType.OPT_OUT) == 2
        # Each STOP records its MO's arrival, before its commit: the time to honour is ts - received_at.
        for stop in (e for e in events if e.type is EventType.OPT_OUT):
            assert stop.received_at is not None and before_mo <= stop.received_at <= stop.ts
        await stack.app.policy.flush()  # type: ignore[union-attr]
        events = await stack.app.store.events(number=E164)
        assert EventType.BLOCKED in [e.type for e in events]
        assert EventType.CONFIRMATION_SENT in [e.type for e in events]
        (blocked,) = [e for e in events if e.type is EventType.BLOCKED]
        assert (blocked.scope, blocked.account, blocked.channel) == ("acme", "acme", "sms")
        assert blocked.received_at is None  # not caused by an MO
        exported = generate_latest(stack.app.metrics.registry).decode()
        assert 'stopgate_blocked_messages_total{scope="acme"} 1.0' in exported
        esme.close()


async def test_submit_right_after_the_stop_resp_is_blocked(tmp_path: Path) -> None:
    """The race: a submit that arrives after the opt-out was acknowledged never reaches the SMSC."""
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        for i in range(20):
            number = f"4477009005{i:02d}"
            assert await mo(stack, "STOP", source=number) == S.ESME_ROK
            resp = await submit(esme, number)
            assert resp.status == S.ESME_RSUBMITFAIL
            assert not [r for r in stack.smsc.submits_to(number) if r.source_addr != SHORT_CODE]
        esme.close()


async def test_three_spellings_are_one_subscriber(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        await mo(stack, "STOP")  # from 447700900401, TON 1
        for destination, ton in (
            ("+447700900401", 1),
            (NUMBER, 1),
            ("07700900401", 2),
            ("00447700900401", 0),
        ):
            resp = await submit(esme, destination, dest_addr_ton=ton)
            assert resp.status == S.ESME_RSUBMITFAIL, destination
        esme.close()


async def test_start_resubscribes_and_help_replies(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        await mo(stack, "STOP")
        assert await mo(stack, "start") == S.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is None
        assert (await submit(esme)).status == S.ESME_ROK
        assert await mo(stack, "HELP") == S.ESME_ROK
        await stack.smsc.wait_until(lambda: len(confirmations(stack)) == 3)
        texts = [r.text for r in confirmations(stack)]
        assert texts[1] == BASE["account"][0]["resubscribe_confirmation"]
        assert texts[2] == BASE["account"][0]["help"]
        assert await stack.app.store.get_suppression("acme", E164) is None  # HELP changes nothing
        events = await stack.app.store.events(number=E164, types=[EventType.OPT_IN])
        assert events[0].text == "start"  # the consent record keeps what they sent
        esme.close()


async def test_yes_only_resubscribes_an_opted_out_number(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        assert await mo(stack, "yes") == S.ESME_ROK
        assert not await stack.app.store.events(number=E164)
        await mo(stack, "STOP")
        await mo(stack, "Yes")
        assert await stack.app.store.get_suppression("acme", E164) is None
        esme.close()


async def test_no_auto_reply_to_alphanumeric_senders(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        assert await mo(stack, "STOP", source="VODAFONE", source_addr_ton=5, source_addr_npi=0) == S.ESME_ROK
        await anyio.sleep(0.3)
        assert confirmations(stack) == []
        esme.close()


async def test_receipts_are_never_opt_outs(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        text = (
            "id:1 sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 "
            "stat:DELIVRD err:000 text:STOP"
        )
        assert await mo(stack, text, esm_class=EsmClass.SMSC_DELIVERY_RECEIPT) == S.ESME_ROK
        assert await mo(stack, "STOP", tlvs=((Tag.RECEIPTED_MESSAGE_ID, b"1\x00"),)) == S.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is None
        esme.close()


async def test_store_failure_answers_a_temporary_error_so_the_smsc_redelivers(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        store = stack.app.store

        async def failing(event: object) -> bool:
            raise StoreError("disk full")

        original = store.opt_out
        store.opt_out = failing  # type: ignore[method-assign]
        assert await mo(stack, "STOP") == S.ESME_RX_T_APPN
        assert esme.delivered == []  # not acknowledged, not forwarded
        store.opt_out = original  # type: ignore[method-assign]
        assert await mo(stack, "STOP") == S.ESME_ROK  # the redelivery is recorded
        assert await store.get_suppression("acme", E164) is not None
        esme.close()


async def test_ucs2_message_gets_the_footer_once_in_ucs2(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        text = "Привет! Скидки сегодня"
        resp = await submit(esme, text=text.encode("utf-16-be"), data_coding=8)
        assert resp.status == 0
        (received,) = await stack.smsc.wait_for_submits(1)
        assert received.pdu.data_coding == 8
        assert received.text == f"{text} {FOOTER}"
        esme.close()


async def test_already_footered_message_passes_unchanged(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        await submit(esme, text="Sale! reply stop   to OPT out")
        (received,) = await stack.smsc.wait_for_submits(1)
        assert received.text == "Sale! reply stop   to OPT out"
        esme.close()


async def test_gsm_message_gaining_a_non_gsm_footer_moves_to_ucs2(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts(footer="Répondez STOP — désabonnement")) as stack:
        esme = await bound(stack)
        await submit(esme, text=b"Soldes")
        (received,) = await stack.smsc.wait_for_submits(1)
        assert received.pdu.data_coding == 8
        assert received.text == "Soldes Répondez STOP — désabonnement"
        esme.close()


async def test_long_message_is_split_with_the_footer_once_and_one_response(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts()) as stack:
        esme = await bound(stack)
        text = "Big sale " * 17  # 153 chars: fits alone, not with the footer
        resp = await submit(esme, text=text.strip(), registered_delivery=1)
        assert resp.status == 0
        parts = await stack.smsc.wait_for_submits(2)
        udhs = [split_udh(p.pdu.short_message) for p in parts]
        concats = [parse_concat(udh) for udh, _ in udhs]
        assert [(c.total, c.seq) for c in concats if c] == [(2, 1), (2, 2)]
        assert "".join(p.text for p in parts) == f"{text.strip()} {FOOTER}"
        assert resp.message_id.decode() == parts[0].message_id  # the ESME holds the first part's id
        # Receipts: only the first part's reaches the ESME, carrying the id it was given.
        delivered = await to_thread.run_sync(esme.wait_delivered, 1)
        await anyio.sleep(0.3)
        receipts = [d for d in esme.delivered if d.esm_class & 0x04]
        assert len(receipts) == 1 and resp.message_id in receipts[0].short_message
        assert delivered
        esme.close()


LONG_TEXT = ("Big sale " * 17).strip()  # fits one segment alone, two with the footer


async def test_a_refused_first_part_stops_the_message(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts()) as stack:
        esme = await bound(stack)
        stack.smsc.fail_next(1, S.ESME_RTHROTTLED)
        resp = await submit(esme, text=LONG_TEXT)
        assert resp.status == S.ESME_RTHROTTLED  # the SMSC's answer, so the ESME retries the message
        await anyio.sleep(0.3)
        assert stack.smsc.submit_count == 1  # part 2 never went
        stack.smsc.reset_faults()
        resp = await submit(esme, text=LONG_TEXT)  # the retry goes through whole
        assert resp.status == S.ESME_ROK
        assert stack.smsc.submit_count == 3
        esme.close()


async def submit_long_then(stack: Stack, esme: Esme, fault: Callable[[], object]) -> Any:
    """Submit LONG_TEXT and, once part 1 reached the SMSC (accepted, its answer held back a moment),
    inject ``fault`` for what follows; the ESME's one response."""
    stack.smsc.respond_delay(0.3)
    answers: list[Any] = []

    async def send() -> None:
        answers.append(await submit(esme, text=LONG_TEXT))

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await stack.smsc.wait_for_submits(1)
        fault()
    return answers[0]


async def test_a_part_refused_after_the_first_was_accepted_fails_the_message(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts()) as stack:
        esme = await bound(stack)
        resp = await submit_long_then(stack, esme, lambda: stack.smsc.fail_next(1, S.ESME_RSUBMITFAIL))
        assert resp.status == S.ESME_RSUBMITFAIL
        assert stack.smsc.submit_count == 2
        esme.close()


async def test_an_unanswered_part_gets_the_esme_an_error(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts()) as stack:
        esme = await bound(stack)
        resp = await submit_long_then(stack, esme, stack.smsc.stall)  # part 2 is never answered
        assert resp.status == S.ESME_RSYSERR  # after the 2 s response timeout
        assert stack.smsc.submit_count == 2
        stack.smsc.reset_faults()
        assert (await submit(esme, text="Short one")).status == S.ESME_ROK  # the session goes on
        esme.close()


async def test_split_messages_in_flight_together_each_get_their_own_answer(tmp_path: Path) -> None:
    """Several ESMEs' long messages at once: each part follows its own first part, and each ESME gets
    the id of its own message's first part."""
    async with running_stack(tmp_path, accounts()) as stack:
        esmes = [await bound(stack) for _ in range(4)]
        stack.smsc.respond_delay(0.05)
        async with anyio.create_task_group() as tg:
            answers: dict[int, Any] = {}

            async def send(k: int) -> None:
                answers[k] = await submit(esmes[k], destination=f"44770090060{k}", text=f"{k} {LONG_TEXT}")

            for k in range(4):
                tg.start_soon(send, k)
        assert stack.smsc.submit_count == 8
        for k in range(4):
            parts = stack.smsc.submits_to(f"44770090060{k}")
            assert [parse_concat(split_udh(p.pdu.short_message)[0]).seq for p in parts] == [1, 2]  # type: ignore[union-attr]
            assert answers[k].status == S.ESME_ROK
            assert answers[k].message_id.decode() == parts[0].message_id
        for esme in esmes:
            esme.close()


async def test_long_message_uses_message_payload_when_configured(tmp_path: Path) -> None:
    async with running_stack(tmp_path, accounts(long_messages="payload")) as stack:
        esme = await bound(stack)
        text = ("Big sale " * 17).strip()
        await submit(esme, text=text)
        (received,) = await stack.smsc.wait_for_submits(1)
        assert received.pdu.short_message == b""
        assert received.text == f"{text} {FOOTER}"
        esme.close()


@pytest.mark.parametrize("style", ["udh8", "udh16", "sar"])
async def test_esme_split_message_gets_the_footer_once_at_the_end(tmp_path: Path, style: str) -> None:
    async with running_stack(tmp_path, accounts()) as stack:
        esme = await bound(stack)
        first, second = "A" * 150, "B" * 10
        ids = []
        for seq, chunk in ((1, first), (2, second)):
            if style == "sar":
                resp = await submit(
                    esme,
                    text=chunk,
                    sar_msg_ref_num=77,
                    sar_total_segments=2,
                    sar_segment_seqnum=seq,
                    registered_delivery=1,
                )
            else:
                bits = 8 if style == "udh8" else 16
                udh = concat_udh(77, 2, seq, bits)
                resp = await submit(esme, text=udh + chunk.encode(), esm_class=0x40, registered_delivery=1)
            assert resp.status == 0
            ids.append(resp.message_id.decode())
        parts = await stack.smsc.wait_for_submits(2)
        assert "".join(p.text for p in parts) == f"{first}{second} {FOOTER}"
        # Receipts reach the ESME with the ids Stopgate gave it.
        await to_thread.run_sync(esme.wait_delivered, 2)
        got = sorted(
            d.receipted_message_id.decode().rstrip("\x00") for d in esme.delivered if d.esm_class & 4
        )
        assert got == sorted(ids)
        esme.close()


async def test_transactional_account_in_the_same_scope_still_reaches_the_number(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        marketing = await bound(stack)
        await mo(stack, "STOP")
        otp = await bound(stack, "tx", "acmeotp", "otppw")
        resp = await submit(otp, text="Your code is 123456")
        assert resp.status == 0
        received = [r for r in stack.smsc.submits_to(NUMBER) if r.source_addr != SHORT_CODE]
        assert [r.text for r in received] == ["Your code is 123456"]  # no footer on transactional
        # Another scope is not affected by acme's list.
        other = await bound(stack, "tx", "other", "otherpw")
        assert (await submit(other)).status == 0
        for esme in (marketing, otp, other):
            esme.close()


async def test_receiver_only_esme_gets_its_confirmation_sent_through_a_transmitter(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack, "rx")
        assert await mo(stack, "STOP") == S.ESME_ROK
        await stack.smsc.wait_until(lambda: len(confirmations(stack)) == 1)
        modes = {s.mode_name for s in stack.smsc.bound_sessions}
        assert "transmitter" in modes
        esme.close()


async def test_accept_and_fail_mode_answers_ok_then_a_rejected_receipt(tmp_path: Path) -> None:
    async with running_stack(tmp_path, {"optout": {"block_mode": "accept_and_fail"}}) as stack:
        esme = await bound(stack)
        await mo(stack, "STOP")
        await to_thread.run_sync(esme.wait_delivered, 1)
        before = stack.smsc.submit_count
        resp = await submit(esme)
        assert resp.status == 0 and resp.message_id.isdigit()  # decimal by default (issue 13)
        delivered = await to_thread.run_sync(esme.wait_delivered, 2)
        receipt = delivered[1]
        assert b"stat:REJECTD" in receipt.short_message and resp.message_id in receipt.short_message
        assert stack.smsc.submit_count == before
        esme.close()


async def test_keywords_overridable_per_account(tmp_path: Path) -> None:
    override = accounts(keywords={"opt_out": ["END", "FINISH", "NONE"]})
    async with running_stack(tmp_path, override) as stack:
        esme = await bound(stack)
        await mo(stack, "STOP")
        assert await stack.app.store.get_suppression("acme", E164) is None
        await mo(stack, "finish please")
        assert await stack.app.store.get_suppression("acme", E164) is not None
        esme.close()


async def test_keyword_in_the_first_part_of_a_concatenated_mo(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        udh = concat_udh(9, 2, 1, 8)
        status = await mo(
            stack, None, short_message=udh + b"STOP sending me these " + b"x" * 100, esm_class=0x40
        )
        assert status == S.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is not None
        esme.close()


async def test_ucs2_mo_and_message_payload_mo_are_understood(tmp_path: Path) -> None:
    # smpplib cannot answer data_sm, so the proxy answers keyword MOs itself here.
    async with running_stack(tmp_path, {"optout": {"forward_keywords": False}}) as stack:
        esme = await bound(stack)
        await mo(stack, "ＳＴＯＰ", data_coding=8)
        assert await stack.app.store.get_suppression("acme", E164) is not None
        resp = await stack.smsc.deliver_data_sm(
            source_addr="447700900402", destination_addr=SHORT_CODE, text="unsubscribe"
        )
        assert resp.command_status == S.ESME_ROK
        assert await stack.app.store.get_suppression("acme", "+447700900402") is not None
        esme.close()


async def test_submit_multi_forwards_permitted_destinations_and_lists_the_suppressed(tmp_path: Path) -> None:
    from gateway.smpp.codec import decode, encode
    from gateway.smpp.fields import Dest
    from gateway.smpp.framing import FrameBuffer
    from gateway.smpp.pdu import BindTransceiver, SubmitMulti, SubmitMultiResp

    async with running_stack(tmp_path) as stack:
        esme = await bound(stack, "rx")  # a receiver, so the STOP below has somewhere to go
        await mo(stack, "STOP")
        frames = FrameBuffer()
        multi = SubmitMulti(
            sequence_number=2,
            source_addr="ACME",
            dests=(Dest(1, 1, 1, NUMBER), Dest(1, 1, 1, "447700900999")),
            short_message=b"Sale",
        )
        async with await anyio.connect_tcp("127.0.0.1", stack.port) as stream:
            await stream.send(encode(BindTransceiver(sequence_number=1, system_id="acme", password="acmepw")))
            got = []
            with anyio.fail_after(5):
                while len(got) < 2:
                    if len(got) == 1 and multi.sequence_number:
                        await stream.send(encode(multi))  # only once bound: earlier is ESME_RINVBNDSTS
                        multi = replace(multi, sequence_number=0)
                    frames.feed(await stream.receive())
                    got += map(decode, frames.frames())
        resp = got[1]
        assert isinstance(resp, SubmitMultiResp) and resp.command_status == 0
        assert [(u.address, u.status) for u in resp.unsuccess_smes] == [(NUMBER, S.ESME_RSUBMITFAIL)]
        (received,) = [r for r in stack.smsc.received if r.pdu.command_id == SubmitMulti.command_id]
        assert received.destinations == ("447700900999",)
        assert received.text == f"Sale {FOOTER}"
        esme.close()
