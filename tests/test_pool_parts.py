"""Every part of a long message on one bind, in order, in pooled mode (issue 14): Stopgate's own split
(the footer makes a message two) and an ESME's own concatenated parts (UDH), on a round-robin route
that would otherwise spread consecutive submits over two SMSCs."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import anyio
import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus, Tag
from gateway.text.udh import parse_concat, split_udh
from tests.pool_stack import PoolStack, pooled_stack

S = CommandStatus
NUMBER = "447700900401"
LONG_TEXT = ("Big sale " * 17).strip()  # one segment alone, two with acme's footer
ROUTES = [{"name": "all", "upstreams": ["a", "b"], "strategy": "round_robin"}]
BINDS = {"a": {"binds": 2}, "b": {"binds": 2}}


def parts_by_message(stack: PoolStack) -> dict[int, list[tuple[str, int, int, int]]]:
    """Concat reference → [(smsc, session, part number, parts)] in arrival order."""
    found: dict[int, list[tuple[str, int, int, int]]] = defaultdict(list)
    for name, smsc in stack.smscs.items():
        for record in smsc.received:
            concat = parse_concat(split_udh(record.pdu.short_message)[0])
            assert concat is not None
            found[concat.reference].append((name, record.session_id, concat.seq, concat.total))
    return found


def complete(stack: PoolStack, messages: int) -> bool:
    found = parts_by_message(stack)
    return len(found) == messages and all(len(a) == a[0][3] for a in found.values())


def assert_one_bind_in_order(stack: PoolStack, messages: int, parts: int | None) -> None:
    """Every message's parts on one bind, in order; ``parts`` each (None: as their UDH says)."""
    found = parts_by_message(stack)
    assert len(found) == messages
    smscs = set()
    for arrivals in found.values():
        total = arrivals[0][3]
        assert parts is None or total == parts
        assert len({(name, session) for name, session, _, _ in arrivals}) == 1
        assert [seq for _, _, seq, _ in arrivals] == list(range(1, total + 1))
        smscs.add(arrivals[0][0])
    assert smscs == {"a", "b"}  # the route still spreads whole messages


@pytest.mark.anyio
async def test_stopgates_split_goes_on_one_bind_in_order(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, ROUTES, upstreams=BINDS) as stack:
        esme = await stack.esme("acme", "acmepw", mode="tx")
        try:
            for _ in range(6):
                resp = await to_thread.run_sync(lambda: esme.submit(NUMBER, LONG_TEXT))
                assert resp.status == S.ESME_ROK
            assert_one_bind_in_order(stack, 6, 2)
        finally:
            esme.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("system_id", "password", "parts"),
    [("acmeotp", "otppw", 3), ("acme", "acmepw", None)],  # acme's are held and re-cut with the footer
)
async def test_an_esmes_own_parts_stay_on_the_bind_the_first_took(
    tmp_path: Path, system_id: str, password: str, parts: int | None
) -> None:
    async with pooled_stack(tmp_path, ROUTES, upstreams=BINDS) as stack:
        esme = await stack.esme(system_id, password, mode="tx")
        try:
            for ref in range(1, 5):
                for seq in (1, 2, 3):
                    udh = bytes((5, 0, 3, ref, 3, seq))
                    resp = await to_thread.run_sync(
                        lambda u=udh: esme.submit(NUMBER, u + b"Your order part " * 8, esm_class=0x40)
                    )
                    assert resp.status == S.ESME_ROK
            with anyio.fail_after(10):  # the held parts go out once the last one is in
                while not complete(stack, 4):
                    await anyio.sleep(0.02)
            assert_one_bind_in_order(stack, 4, parts)
        finally:
            esme.close()


@pytest.mark.anyio
async def test_a_receipt_for_a_held_and_recut_part_reaches_the_sender_with_its_id(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, ROUTES, upstreams=BINDS) as stack:
        esme = await stack.esme("acme", "acmepw", mode="trx")
        try:
            given = []
            for seq in (1, 2, 3):
                udh = bytes((5, 0, 3, 9, 3, seq))
                resp = await to_thread.run_sync(
                    lambda u=udh: esme.submit(
                        NUMBER, u + b"Your order part " * 8, esm_class=0x40, registered_delivery=1
                    )
                )
                given.append(resp.message_id.decode())
            with anyio.fail_after(10):
                while not complete(stack, 1):
                    await anyio.sleep(0.02)
            smsc = next(s for s in stack.smscs.values() if s.received)
            first = smsc.received[0].message_id
            text = f"id:{first} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD"
            resp = await smsc.deliver(source_addr=NUMBER, destination_addr="ACME", esm_class=0x04, text=text)
            assert resp.command_status == S.ESME_ROK
            [receipt] = await to_thread.run_sync(esme.wait_delivered, 1)
            assert receipt.short_message.split()[0].decode()[3:] in given  # the id acme was given
        finally:
            esme.close()


@pytest.mark.anyio
async def test_an_esmes_sar_parts_stay_on_the_bind_the_first_took(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, ROUTES, upstreams=BINDS) as stack:
        esme = await stack.esme("acmeotp", "otppw", mode="tx")
        try:
            for ref in range(1, 5):
                for seq in (1, 2, 3):
                    resp = await to_thread.run_sync(
                        lambda r=ref, s=seq: esme.submit(
                            NUMBER,
                            b"Your code part",
                            sar_msg_ref_num=r,
                            sar_total_segments=3,
                            sar_segment_seqnum=s,
                        )
                    )
                    assert resp.status == S.ESME_ROK
            arrivals: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
            for name, smsc in stack.smscs.items():
                for record in smsc.received:
                    tlvs = {int(tag): value for tag, value in record.pdu.tlvs}
                    ref = int.from_bytes(tlvs[Tag.SAR_MSG_REF_NUM], "big")
                    arrivals[ref].append((name, record.session_id, tlvs[Tag.SAR_SEGMENT_SEQNUM][0]))
            assert sorted(arrivals) == [1, 2, 3, 4]
            for parts in arrivals.values():
                assert len({(name, session) for name, session, _ in parts}) == 1
                assert [seq for _, _, seq in parts] == [1, 2, 3]
            assert {parts[0][0] for parts in arrivals.values()} == {"a", "b"}
        finally:
            esme.close()
