"""Failover in pooled mode (issue 14): when the primary SMSC is lost, when it answers errors (the
circuit breaker), when it stalls (timeouts are never resent), and fail-back when it returns."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio import to_thread
from prometheus_client import generate_latest

from gateway.smpp.constants import CommandStatus
from tests.pool_stack import pooled_stack

S = CommandStatus
FR = "33612345678"
FAILOVER = [{"name": "main", "upstreams": ["a", "b"], "strategy": "failover"}]


def first_id(esme: object) -> str:
    resp = esme.submit(FR, b"Your code is 1234")  # type: ignore[attr-defined]
    assert resp.status == S.ESME_ROK
    return str(resp.message_id.decode())


@pytest.mark.anyio
async def test_failover_when_the_primary_is_lost_and_back_when_it_returns(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, FAILOVER, upstreams={"a": {"binds": 2}}) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
            await stack.smscs["a"].stop()
            await stack.wait_down("a")
            for _ in range(3):
                assert (await to_thread.run_sync(first_id, esme)).startswith("b-")
            await stack.restart("a")
            await stack.wait_bound("a")
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
        finally:
            esme.close()


@pytest.mark.anyio
async def test_errors_fail_over_once_then_the_breaker_opens_and_probes(tmp_path: Path) -> None:
    upstreams = {"a": {"breaker_failures": 3, "breaker_cooldown": 1.0}}
    async with pooled_stack(tmp_path, FAILOVER, upstreams=upstreams) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        a, b = stack.smscs["a"], stack.smscs["b"]
        pool = stack.router.pools["a"]
        try:
            a.fail_next(3, S.ESME_RSYSERR)
            # Each refusal is tried once on b: the ESME sees success, with b's id.
            for _ in range(3):
                assert (await to_thread.run_sync(first_id, esme)).startswith("b-")
            assert a.submit_count == 3 and pool.failovers == 3
            assert pool.breaker.state == "open" and pool.health == "down"
            # Open: a is skipped without being tried.
            assert (await to_thread.run_sync(first_id, esme)).startswith("b-")
            assert a.submit_count == 3
            await anyio.sleep(1.1)  # the cooldown: one probe goes to a, succeeds, the circuit closes
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
            assert pool.breaker.state == "closed" and pool.health == "bound"
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
            # A permanent refusal is the ESME's answer, never tried elsewhere.
            a.fail_next(1, S.ESME_RINVDSTADR)
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"x"))
            assert resp.status == S.ESME_RINVDSTADR and b.submit_count == 4
        finally:
            esme.close()


@pytest.mark.anyio
async def test_a_stalled_primary_is_never_resent_to_and_the_breaker_moves_on(tmp_path: Path) -> None:
    upstreams = {"a": {"breaker_failures": 2, "breaker_cooldown": 30.0}}
    override = {"session": {"response_timeout": 0.5}}
    async with pooled_stack(tmp_path, FAILOVER, upstreams=upstreams, override=override) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        a, b = stack.smscs["a"], stack.smscs["b"]
        try:
            a.stall(True)
            sent = [esme.submit(FR, b"x", wait=False) for _ in range(2)]
            for pdu in sent:
                resp = await to_thread.run_sync(esme.wait_response, pdu.sequence)
                assert resp.status == S.ESME_RSYSERR  # no answer came: never resent elsewhere
            assert b.submit_count == 0
            assert stack.router.pools["a"].breaker.state == "open"
            assert (await to_thread.run_sync(first_id, esme)).startswith("b-")
        finally:
            esme.close()


@pytest.mark.anyio
async def test_generic_nacks_count_against_the_upstream_and_fail_over(tmp_path: Path) -> None:
    upstreams = {"a": {"breaker_failures": 2, "breaker_cooldown": 30.0}}
    async with pooled_stack(tmp_path, FAILOVER, upstreams=upstreams) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            stack.smscs["a"].generic_nack_next(2, S.ESME_RSYSERR)
            for _ in range(2):
                assert (await to_thread.run_sync(first_id, esme)).startswith("b-")
            pool = stack.router.pools["a"]
            assert pool.breaker.state == "open" and pool.failovers == 2 and pool.errors == 2
        finally:
            esme.close()


@pytest.mark.anyio
async def test_an_smsc_unbind_is_answered_and_the_pool_binds_again(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, FAILOVER, upstreams={"a": {"binds": 2}}) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            assert await stack.smscs["a"].unbind_all() == 2
            await stack.wait_bound("a")
            with anyio.fail_after(10):
                while len(stack.smscs["a"].bound_sessions) < 2:
                    await anyio.sleep(0.02)
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
        finally:
            esme.close()


@pytest.mark.anyio
async def test_failover_metrics_by_upstream_and_route(tmp_path: Path) -> None:
    async with pooled_stack(tmp_path, FAILOVER) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:
            stack.smscs["a"].fail_next(1, S.ESME_RSYSERR)
            stack.smscs["b"].throttle_next(1)
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"x"))
            assert resp.status == S.ESME_RTHROTTLED  # a refused it, b throttled it: b's answer is the ESME's
            await to_thread.run_sync(first_id, esme)
            scraped = generate_latest(stack.app.metrics.registry).decode()
            for line in (
                'stopgate_upstream_submits_total{route="main",upstream="a"} 2.0',
                'stopgate_upstream_errors_total{route="main",upstream="a"} 1.0',
                'stopgate_upstream_failovers_total{route="main",upstream="a"} 1.0',
                'stopgate_upstream_submits_total{route="main",upstream="b"} 1.0',
                'stopgate_upstream_throttled_total{route="main",upstream="b"} 1.0',
                'stopgate_upstream_bind_state{bind="0",upstream="a"} 1.0',
            ):
                assert line in scraped
        finally:
            esme.close()


@pytest.mark.anyio
async def test_a_bug_met_on_a_pool_bind_closes_that_bind_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pooled_stack(tmp_path, FAILOVER) as stack:
        esme = await stack.esme("other", "otherpw", mode="tx")
        try:

            def broken(*args: object) -> None:
                raise RuntimeError("a bug")

            monkeypatch.setattr(stack.router.deliveries, "on_deliver", broken)
            with pytest.raises(Exception):  # noqa: B017 - the simulator sees its link end, whatever it raises
                await stack.smscs["a"].deliver(
                    source_addr="447700900401", destination_addr="60006", text="hi"
                )
            monkeypatch.undo()
            await stack.wait_bound("a")
            with anyio.fail_after(10):
                while not stack.smscs["a"].bound_sessions:
                    await anyio.sleep(0.02)
            assert (await to_thread.run_sync(first_id, esme)).startswith("a-")
        finally:
            esme.close()
