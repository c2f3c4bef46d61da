"""Message ids Stopgate issues itself (issue 13, item 4): decimal digits by default, or hex when the
upstream's own ids are hex, so clients that parse ids as numbers (Kannel's msg-id-type) read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread

from gateway.optout.ids import new_message_id
from gateway.text.udh import concat_udh
from tests.esme import Esme
from tests.stack import BASE, make_config, running_stack

pytestmark = pytest.mark.anyio


def test_decimal_ids_fit_a_signed_64_bit_number() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.isdigit() and len(i) <= 19 and int(i) < 2**63 for i in ids)


def test_hex_ids() -> None:
    ids = [new_message_id("hex") for _ in range(2000)]
    assert all(len(i) <= 15 and int(i, 16) < 2**63 and i == i.lower() for i in ids)


def upstreams(form: str) -> dict[str, Any]:
    return {"upstream": [{**u, "message_ids": form} for u in BASE["upstream"]]}


def test_message_ids_is_set_per_upstream(tmp_path: Path) -> None:
    assert make_config(tmp_path, 2776, upstreams("hex")).upstreams["sim"].message_ids == "hex"
    assert make_config(tmp_path, 2776).upstreams["sim"].message_ids == "decimal"


@pytest.mark.parametrize(("form", "digits"), [("decimal", "0123456789"), ("hex", "0123456789abcdef")])
async def test_client_split_parts_get_upstream_form_ids(tmp_path: Path, form: str, digits: str) -> None:
    """A message the client split (held until complete, each part answered at once)."""
    async with running_stack(tmp_path, upstreams(form)) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        resps = []
        for seq in (1, 2):
            resp = await to_thread.run_sync(
                lambda seq=seq: esme.submit(
                    "447700900401", concat_udh(7, 2, seq) + b"part %d " % seq, esm_class=0x40
                )
            )
            resps.append(resp)
        ids = [r.message_id.decode() for r in resps]
        assert all(r.status == 0 for r in resps)
        assert all(i and set(i) <= set(digits) for i in ids), ids
        esme.close()
