"""Pooled mode (issue 14) end to end: smpplib ESMEs → Stopgate holding its own binds → several
simulated SMSCs. Prefix routing, round-robin and weighted shares, and the ESME's bind no longer
opening an upstream bind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus
from tests.esme import Esme
from tests.pool_stack import PoolStack, pooled_stack

S = CommandStatus
UK = "447700900401"
FR = "33612345678"


def send_many(esme: Esme, destinations: list[str], batch: int = 40) -> list[Any]:
    """Submit to each destination, ``batch`` in flight at a time; the responses in order."""
    responses = []
    for start in range(0, len(destinations), batch):
        sent = [esme.submit(d, b"Your code is 1234", wait=False) for d in destinations[start : start + batch]]
        responses.extend(esme.wait_response(p.sequence) for p in sent)
    return responses


def by_smsc(stack: PoolStack) -> Counter[str]:
    return Counter({name: smsc.submit_count for name, smsc in stack.smscs.items()})


@pytest.mark.anyio
async def test_prefix_routing_uk_to_a_the_rest_to_b(tmp_path: Path) -> None:
    routes = [
        {"name": "uk", "prefixes": ["+44"], "upstreams": ["a"]},
        {"name": "default", "upstreams": ["b"]},
    ]
    async with pooled_stack(tmp_path, routes, upstreams={"a": {"binds": 2}}) as stack:
        assert [len(s.bound_sessions) for s in stack.smscs.values()] == [2, 1, 1]
        acme = await stack.esme(mode="tx")
        other = await stack.esme("other", "otherpw")
        try:
            # The ESMEs' binds opened no upstream bind: Stopgate's own are the only ones.
            assert [len(s.bound_sessions) for s in stack.smscs.values()] == [2, 1, 1]
            for esme in (acme, other):
                uk = await to_thread.run_sync(lambda e=esme: e.submit(UK, b"Your code is 1234"))
                fr = await to_thread.run_sync(lambda e=esme: e.submit(FR, b"Your code is 1234"))
                national = await to_thread.run_sync(
                    lambda e=esme: e.submit("07700900402", b"Your code", dest_addr_ton=0)
                )
                assert uk.status == fr.status == national.status == S.ESME_ROK
                assert uk.message_id.startswith(b"a-") and national.message_id.startswith(b"a-")
                assert fr.message_id.startswith(b"b-")
            assert by_smsc(stack) == Counter({"a": 4, "b": 2, "c": 0})
            assert [r.destinations[0] for r in stack.smscs["b"].received] == [FR, FR]
        finally:
            acme.close()
            other.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("strategy", "weights", "shares"), [("round_robin", None, (0.5, 0.5)), ("weighted", [3, 1], (0.75, 0.25))]
)
async def test_shares_over_a_thousand_messages(
    tmp_path: Path, strategy: str, weights: list[int] | None, shares: tuple[float, float]
) -> None:
    route: dict[str, Any] = {"name": "all", "upstreams": ["a", "b"], "strategy": strategy}
    if weights:
        route["weights"] = weights
    async with pooled_stack(tmp_path, [route], upstreams={"a": {"binds": 2}, "b": {"binds": 2}}) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            responses = await to_thread.run_sync(lambda: send_many(esme, [FR] * 1000))
            assert all(r.status == S.ESME_ROK for r in responses)
            counts = by_smsc(stack)
            assert counts["a"] + counts["b"] == 1000
            assert abs(counts["a"] / 1000 - shares[0]) <= 0.05
            assert abs(counts["b"] / 1000 - shares[1]) <= 0.05
            # Both binds of each upstream carried traffic (least outstanding first).
            for name in ("a", "b"):
                sessions = Counter(r.session_id for r in stack.smscs[name].received)
                assert len(sessions) == 2
            status = {s.name: s for s in stack.app.proxy.upstream_status()}  # type: ignore[union-attr]
            assert status["a"].pooled and status["a"].health == "bound" and len(status["a"].binds) == 2
            assert status["a"].submits == counts["a"]
        finally:
            esme.close()


@pytest.mark.anyio
async def test_no_upstream_up_answers_msgqful_and_keeps_the_bind(tmp_path: Path) -> None:
    routes = [{"name": "default", "upstreams": ["c"]}]
    async with pooled_stack(tmp_path, routes) as stack:
        await stack.smscs["c"].stop()
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            await stack.wait_down("c")
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"hello"))
            assert resp.status == S.ESME_RMSGQFUL
            ready, detail = stack.app.readiness()
            assert not ready and "other" in " ".join(detail["reasons"])
        finally:
            esme.close()
