"""MO routing (issue 14): the address the subscriber texted decides the account, not the bind.

The misrouting case end to end (smpplib ESMEs → Stopgate → simulated SMSC): two accounts with
different scopes share one upstream account; a STOP to acme's short code delivered on the other
account's bind is recorded in acme's scope, reaches acme's ESME, and blocks acme's next marketing
submit to that number.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import to_thread
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ConfigError
from gateway.policy.mo_routes import MoRoute, MoRouter, address_key
from gateway.smpp.constants import CommandStatus, EsmClass
from gateway.store.memory import MemoryStore
from gateway.store.model import utcnow
from gateway.store.sqlite import SQLiteStore
from tests.esme import Esme
from tests.stack import BASE, Stack, make_config, running_stack

S = CommandStatus
NUMBER = "447700900401"
E164 = "+" + NUMBER
ACME_CODE = "60006"


# --- the pure router ------------------------------------------------------------------------------


def test_router_by_number_and_keyword() -> None:
    router = MoRouter(
        [
            MoRoute("60006", "acme"),
            MoRoute("+447700900000", "acme"),
            MoRoute("60007", "beta", keyword="FINISH"),
            MoRoute("60007", "gamma", keyword="join"),
        ]
    )
    assert router.route("60006", "STOP") == "acme"
    assert router.route("60006", None) == "acme"
    assert router.route("447700900000", "hi") == "acme"
    assert router.route("00447700900000", "hi") == "acme"
    assert router.route("+44 7700 900000", "hi") == "acme"
    assert router.route("60007", "finish!") == "beta"
    assert router.route("60007", "  Join now") == "gamma"
    assert router.route("60007", "STOP") is None  # no keyword matches, no route for the bare number
    assert router.route("60008", "STOP") is None
    assert not MoRouter(())


def test_router_refuses_conflicts() -> None:
    with pytest.raises(ValueError, match="routed to both"):
        MoRouter([MoRoute("60006", "acme"), MoRoute("+60006", "beta")])
    with pytest.raises(ValueError, match="routed to both"):
        MoRouter([MoRoute("60006", "a", keyword="X"), MoRoute("60006", "b", keyword="x")])
    with pytest.raises(ValueError, match="one word"):
        MoRouter([MoRoute("60006", "a", keyword="two words")])
    with pytest.raises(ValueError, match="no digits"):
        MoRouter([MoRoute("ACME", "a")])
    MoRouter([MoRoute("60006", "a"), MoRoute("60006", "a")])  # the same rule twice is harmless


@given(st.from_regex(r"[1-9][0-9]{3,14}", fullmatch=True), st.sampled_from(["", "+", "00"]))
def test_router_number_forms_agree(digits: str, prefix: str) -> None:
    router = MoRouter([MoRoute(digits, "acme")])
    assert address_key(prefix + digits) == digits
    assert router.route(prefix + digits, "anything") == "acme"
    assert router.route(digits + "1", "anything") is None


# --- configuration --------------------------------------------------------------------------------


def config_with(tmp_path: Path, **override: Any) -> Any:
    return make_config(tmp_path, 2775, override)


def accounts(acme: dict[str, Any] | None = None, other: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    out = [dict(a) for a in BASE["account"]]
    out[0].update(acme or {})
    out[2].update(other or {})
    return out


def test_config_account_numbers_mo_route_and_default(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        account=accounts(acme={"numbers": ["60006", {"number": "60007", "keyword": "FINISH"}]}),
        mo_route=[{"number": "60008", "account": "other"}],
        mo={"default_account": "acmeotp"},
    )
    assert config.accounts["acme"].numbers == (
        MoRoute("60006", "acme"),
        MoRoute("60007", "acme", keyword="FINISH"),
    )
    assert config.mo.default_account == "acmeotp"
    router = MoRouter(config.mo.routes)
    assert router.route("60008", "x") == "other"
    assert router.route("60007", "finish") == "acme"
    assert config_with(tmp_path).mo.routes == ()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"mo_route": [{"number": "1", "account": "nobody"}]}, "mo_route[0].account: unknown account"),
        ({"mo": {"default_account": "nobody"}}, "mo.default_account: unknown account 'nobody'"),
        (
            {"account": accounts(acme={"numbers": ["60006"]}, other={"numbers": ["60006"]})},
            "routed to both 'acme' and 'other'",
        ),
        ({"account": accounts(acme={"numbers": [{"number": "6", "keyword": "a b"}]})}, "must be one word"),
        ({"account": accounts(acme={"numbers": [{"number": "6", "kw": "A"}]})}, "kw"),
        ({"account": accounts(acme={"numbers": [5]})}, "numbers[0]"),
    ],
)
def test_config_mo_errors(tmp_path: Path, override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_with(tmp_path, **override)
    assert message in str(info.value)


# --- end to end -----------------------------------------------------------------------------------

SHARED = {
    "account": accounts(acme={"numbers": [ACME_CODE]}, other={"scope": "other"}),
}


async def bound(stack: Stack, system_id: str, password: str, mode: str) -> Esme:
    esme = Esme(stack.port, system_id, password)
    await to_thread.run_sync(esme.bind, mode)
    return esme


async def mo(stack: Stack, text: str, destination: str = ACME_CODE) -> int:
    resp = await stack.smsc.deliver(source_addr=NUMBER, destination_addr=destination, text=text)
    return int(resp.command_status)


@pytest.mark.anyio
async def test_stop_to_acme_on_another_accounts_bind_is_acmes(tmp_path: Path) -> None:
    async with running_stack(tmp_path, SHARED) as stack:
        other = await bound(stack, "other", "otherpw", "trx")
        acme_tx = await bound(stack, "acme", "acmepw", "tx")
        try:
            # Only other's session can receive: the SMSC hands acme's STOP to it. The opt-out is
            # committed in acme's scope, then the SMSC is asked to redeliver (no acme receiver).
            assert await mo(stack, "STOP") == S.ESME_RX_T_APPN
            assert await stack.app.store.get_suppression("acme", E164) is not None
            assert await stack.app.store.get_suppression("other", E164) is None
            refused = await to_thread.run_sync(lambda: acme_tx.submit(NUMBER, b"Big sale"))
            assert refused.status == S.ESME_RSUBMITFAIL
            # other's own marketing to the number is untouched (a different scope).
            sent = await to_thread.run_sync(lambda: other.submit(NUMBER, b"Other news"))
            assert sent.status == S.ESME_ROK

            # acme's receiver binds: redeliveries reach it, whichever of the two binds they arrive on.
            acme_rx = await bound(stack, "acme", "acmepw", "rx")
            try:
                for _ in range(4):
                    assert await mo(stack, "STOP") == S.ESME_ROK
                delivered = await to_thread.run_sync(acme_rx.wait_delivered, 4)
                assert [d.short_message for d in delivered] == [b"STOP"] * 4
                assert other.delivered == []
                # An MO to a number no rule routes stays with the bind it came on (as before).
                assert await mo(stack, "hello", destination="70000") == S.ESME_ROK
                await anyio.sleep(0.2)
                assert len(other.delivered) + len(acme_rx.delivered) == 5
            finally:
                acme_rx.close()
        finally:
            other.close()
            acme_tx.close()


@pytest.mark.anyio
async def test_routed_mos_round_robin_over_the_accounts_receivers(tmp_path: Path) -> None:
    async with running_stack(tmp_path, SHARED) as stack:
        other = await bound(stack, "other", "otherpw", "rx")
        acme = [await bound(stack, "acme", "acmepw", "rx") for _ in range(2)]
        try:
            for i in range(6):
                assert await mo(stack, f"hello {i}") == S.ESME_ROK
            await to_thread.run_sync(lambda: acme[0].wait_delivered(3))
            await to_thread.run_sync(lambda: acme[1].wait_delivered(3))
            assert len(acme[0].delivered) == len(acme[1].delivered) == 3
            assert other.delivered == []
        finally:
            for esme in (other, *acme):
                esme.close()


@pytest.mark.anyio
async def test_unrouted_mos_go_to_the_default_account(tmp_path: Path) -> None:
    override = dict(SHARED, mo={"default_account": "acme"})
    async with running_stack(tmp_path, override) as stack:
        other = await bound(stack, "other", "otherpw", "trx")
        acme = await bound(stack, "acme", "acmepw", "rx")
        try:
            for _ in range(2):
                assert await mo(stack, "STOP", destination="70000") == S.ESME_ROK
            await to_thread.run_sync(lambda: acme.wait_delivered(2))
            assert other.delivered == []
            assert await stack.app.store.get_suppression("acme", E164) is not None
            assert await stack.app.store.get_suppression("other", E164) is None
        finally:
            other.close()
            acme.close()


# --- receipts ------------------------------------------------------------------------------------


async def receipt(stack: Stack, message_id: str) -> int:
    resp = await stack.smsc.deliver(
        source_addr=NUMBER,
        destination_addr="ACME",
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        text=f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD",
    )
    return int(resp.command_status)


def receipt_ids(esme: Esme) -> list[str]:
    return [d.short_message.decode().split()[0][3:] for d in esme.delivered if d.esm_class & 0x04]


RECEIPTS = dict(SHARED, mo={"route_receipts": True})


@pytest.mark.anyio
async def test_receipts_reach_the_sender_on_any_bind_and_after_a_restart(tmp_path: Path) -> None:
    async with running_stack(tmp_path, RECEIPTS) as stack:
        other = await bound(stack, "other", "otherpw", "trx")
        acme = await bound(stack, "acme", "acmepw", "trx")
        try:
            resp = await to_thread.run_sync(lambda: acme.submit("447700900999", b"Your code"))
            assert resp.status == S.ESME_ROK
            message_id = resp.message_id.decode()
            for _ in range(2):  # the simulator takes turns: one of them arrives on other's bind
                assert await receipt(stack, message_id) == S.ESME_ROK
            await to_thread.run_sync(lambda: acme.wait_delivered(2))
            assert receipt_ids(acme) == [message_id] * 2
            assert other.delivered == []
        finally:
            other.close()
            acme.close()

    # A new process on the same store: the id map survived; nothing is in memory.
    async with running_stack(tmp_path, RECEIPTS) as stack:
        other = await bound(stack, "other", "otherpw", "trx")
        acme_rx = await bound(stack, "acme", "acmepw", "rx")
        try:
            for _ in range(2):
                assert await receipt(stack, message_id) == S.ESME_ROK
            await to_thread.run_sync(lambda: acme_rx.wait_delivered(2))
            assert receipt_ids(acme_rx) == [message_id] * 2
            assert other.delivered == []
            # A receipt for an id nobody here sent stays on the bind it came on (as before).
            for _ in range(2):
                assert await receipt(stack, "unknown-id") == S.ESME_ROK
            await anyio.sleep(0.3)
            assert len(other.delivered) + len(acme_rx.delivered) == 4
        finally:
            other.close()
            acme_rx.close()


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_receipt_routes_expire(tmp_path: Path, backend: str) -> None:
    store = MemoryStore() if backend == "memory" else SQLiteStore(tmp_path / "s.db")
    async with store:
        now = utcnow()
        await store.record_receipt_routes([("sim", "m1", "acme", "s1", now + timedelta(seconds=10))])
        assert await store.receipt_route("sim", "m1", now) == ("acme", "s1")
        assert await store.receipt_route("sim", "m1", now + timedelta(seconds=11)) is None
        await store.record_receipt_routes([("sim", "m1", "beta", "s2", now + timedelta(seconds=20))])
        assert await store.receipt_route("sim", "m1", now + timedelta(seconds=11)) == ("beta", "s2")
        assert await store.receipt_route("other", "m1", now) is None
        assert await store.purge_receipt_routes(now + timedelta(seconds=21)) == 1
        assert await store.receipt_route("sim", "m1", now) is None


@pytest.mark.anyio
@pytest.mark.parametrize(("ttl", "tracked"), [(None, {"acme", "acmeotp", "other"}), (0, set()), (-1, set())])
async def test_only_accounts_sharing_an_upstream_are_tracked(
    tmp_path: Path, ttl: float | None, tracked: set[str]
) -> None:
    from gateway.optout.engine import OptoutPolicy
    from gateway.store.index import SuppressionIndex

    override: dict[str, Any] = {"mo": {"route_receipts": True}}
    if ttl is not None:
        override = {"mo": {"route_receipts": ttl >= 0, "receipt_ttl": max(ttl, 0)}}
    async with MemoryStore() as store:
        policy = OptoutPolicy(make_config(tmp_path, 2775, override), store, SuppressionIndex())
        assert policy.receipt_routes.tracked == tracked
        assert (policy.on_submit == policy.mt.on_submit) is (not tracked)
    own = {
        "upstream": [*BASE["upstream"], {**BASE["upstream"][0], "name": "sim2"}],
        "account": accounts(other={"upstream": "sim2"}),
        **override,
    }
    async with MemoryStore() as store:
        policy = OptoutPolicy(make_config(tmp_path, 2775, own), store, SuppressionIndex())
        assert policy.receipt_routes.tracked == ({"acme", "acmeotp"} if ttl is None else set())
