"""Receipt requests per client part on messages Stopgate re-cuts (issue 13, item 2): each message id
the client was given gets exactly the receipts its own part asked for. smpplib → Stopgate → SMSC sim."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio import to_thread

from gateway.optout.held import part_owners
from gateway.text.udh import concat_udh
from tests.esme import Esme
from tests.stack import running_stack

pytestmark = pytest.mark.anyio

NUMBER = "447700900401"


def test_part_owners() -> None:
    assert part_owners(2, 2) == [(0,), (1,)]
    assert part_owners(3, 2) == [(0,), (1, 2)]
    assert part_owners(2, 3) == [(0,), (1,), ()]
    assert part_owners(1, 1) == [(0,)]


async def send_split(
    tmp_path: Path, chunks: list[str], asked: list[int]
) -> tuple[list[str], list[str], list[int]]:
    """The client's ids, the ids its receipts named, and registered_delivery of each upstream part."""
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        ids = []
        for seq, (chunk, rd) in enumerate(zip(chunks, asked, strict=True), start=1):
            udh = concat_udh(42, len(chunks), seq)
            resp = await to_thread.run_sync(
                lambda udh=udh, chunk=chunk, rd=rd: esme.submit(
                    NUMBER, udh + chunk.encode(), esm_class=0x40, registered_delivery=rd
                )
            )
            assert resp.status == 0
            ids.append(resp.message_id.decode())
        await stack.smsc.wait_for_submits(1)
        await anyio.sleep(1.0)  # every receipt the SMSC sends has arrived by now
        upstream = [r.pdu.registered_delivery for r in stack.smsc.received]
        receipts = [
            d.receipted_message_id.decode().rstrip("\x00") for d in esme.delivered if d.esm_class & 4
        ]
        esme.close()
    return ids, receipts, upstream


async def test_kannel_style_receipt_on_the_first_part_only(tmp_path: Path) -> None:
    ids, receipts, upstream = await send_split(tmp_path, ["a" * 153, "b" * 20], [1, 0])
    assert upstream == [1, 0]
    assert receipts == [ids[0]]  # no receipt for part 2, which did not ask


async def test_receipt_on_the_last_part_only(tmp_path: Path) -> None:
    ids, receipts, upstream = await send_split(tmp_path, ["a" * 153, "b" * 20], [0, 1])
    assert upstream == [0, 1]
    assert receipts == [ids[1]]


async def test_three_client_parts_in_two_upstream_parts_each_get_their_receipt(tmp_path: Path) -> None:
    ids, receipts, upstream = await send_split(tmp_path, ["a" * 60, "b" * 60, "c" * 60], [1, 1, 1])
    assert upstream == [1, 1]
    assert sorted(receipts) == sorted(ids)
