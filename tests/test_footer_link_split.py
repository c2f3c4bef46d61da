"""``{optout_url}`` on a message the ESME split itself: one link per message, not per part (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.text.udh import concat_udh
from tests.stack import running_stack
from tests.test_footer_link_e2e import LINK, override
from tests.test_optout_e2e import E164, bound, submit

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("style", ["udh", "sar"])
async def test_a_split_message_mints_one_token_and_carries_one_link(tmp_path: Path, style: str) -> None:
    async with running_stack(tmp_path, override()) as stack:
        assert stack.app.policy is not None and stack.app.tokens is not None
        mt = stack.app.policy.mt
        issue = mt.links
        assert issue is not None
        issued: list[tuple[Any, ...]] = []

        def counting(*args: Any) -> str:
            issued.append(args)
            return issue(*args)

        mt.links = counting
        esme = await bound(stack)
        chunks = ("A" * 150, "B" * 100, "C" * 10)
        for seq, chunk in enumerate(chunks, start=1):
            if style == "sar":
                fields: dict[str, Any] = {
                    "sar_msg_ref_num": 77,
                    "sar_total_segments": 3,
                    "sar_segment_seqnum": seq,
                }
                resp = await submit(esme, text=chunk, **fields)
            else:
                resp = await submit(esme, text=concat_udh(77, 3, seq, 8) + chunk.encode(), esm_class=0x40)
            assert resp.status == 0
        parts = await stack.smsc.wait_for_submits(3)
        whole = "".join(p.text for p in parts)
        assert whole.startswith("".join(chunks) + " ")
        assert len(LINK.findall(whole)) == 1 and whole.count("/u/") == 1, whole
        assert len(issued) == 1
        assert issued[0][:2] == ("acme", E164)
        (token,) = LINK.findall(whole)
        await stack.app.tokens.flush()
        stored = await stack.app.store.web_token(token)
        assert stored is not None and stored.number == E164
        esme.close()

