"""``max_tps`` in pooled mode (issue 14), end to end: over the rate a submit waits its turn, in order,
or is refused ESME_RTHROTTLED when it may not wait; the SMSC's own ESME_RTHROTTLED reaches the ESME
(never retried blindly) and halves the upstream's rate. The rate held over 10 s is measured by
``tools/bench_pool.py`` (a timed measurement has no place in the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus
from tests.pool_stack import pooled_stack
from tools.ports import free_port

S = CommandStatus
FR = "33612345678"
ROUTES = [{"name": "default", "upstreams": ["a"]}]


@pytest.mark.anyio
async def test_over_the_rate_without_waiting_is_throttled(tmp_path: Path) -> None:
    upstreams = {"a": {"max_tps": 2, "max_tps_wait": 0}}
    async with pooled_stack(tmp_path, ROUTES, upstreams=upstreams) as stack:
        esme = await stack.esme("other", "otherpw", "tx")
        try:

            def burst() -> list[int]:
                sent = [esme.submit(FR, b"x", wait=False) for _ in range(20)]
                return [esme.wait_response(p.sequence).status for p in sent]

            statuses = await to_thread.run_sync(burst)
            assert statuses.count(S.ESME_ROK) >= 2
            assert statuses.count(S.ESME_RTHROTTLED) >= 10
            assert stack.smscs["a"].submit_count == statuses.count(S.ESME_ROK)
            assert stack.router.pools["a"].throttled == statuses.count(S.ESME_RTHROTTLED)
        finally:
            esme.close()


@pytest.mark.anyio
async def test_over_the_rate_waits_in_order_and_smsc_throttling_slows_down(tmp_path: Path) -> None:
    upstreams = {"a": {"max_tps": 40, "max_tps_wait": 10}}
    async with pooled_stack(tmp_path, ROUTES, upstreams=upstreams) as stack:
        esme = await stack.esme("other", "otherpw", "tx")
        smsc = stack.smscs["a"]
        try:

            def burst() -> list[int]:
                sent = [esme.submit(FR, f"m{i}".encode(), wait=False) for i in range(60)]
                return [esme.wait_response(p.sequence, 20).status for p in sent]

            statuses = await to_thread.run_sync(burst)
            assert statuses == [S.ESME_ROK] * 60
            texts = [r.pdu.short_message.split()[0] for r in smsc.received]  # (a footer follows)
            assert texts == [f"m{i}".encode() for i in range(60)]

            pool = stack.router.pools["a"]
            assert pool.bucket is not None and pool.bucket.rate == 40
            smsc.throttle_next(1)
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"y"))
            assert resp.status == S.ESME_RTHROTTLED  # passed back, not retried
            assert smsc.submit_count == 61
            assert pool.bucket.rate < 40
        finally:
            esme.close()


@pytest.mark.anyio
async def test_each_worker_takes_its_share_of_the_rate(tmp_path: Path) -> None:
    """Under ``listen.workers`` every worker holds its own pool: the rate is split so the SMSC's
    contracted ``max_tps`` holds for all of them together."""
    upstreams = {"a": {"max_tps": 40}}
    override = {"listen": {"workers": 2, "port": free_port()}}
    async with pooled_stack(tmp_path, ROUTES, upstreams=upstreams, override=override) as stack:
        bucket = stack.router.pools["a"].bucket
        assert bucket is not None and bucket.rate == 20


@pytest.mark.anyio
async def test_an_esme_unbinding_with_submits_in_flight_gets_their_answers_first(tmp_path: Path) -> None:
    """§4.2: the binds are shared, so the session waits for its own answers (not the binds') before
    it answers the unbind; answers arriving after the ESME left would be lost to it."""
    async with pooled_stack(tmp_path, ROUTES) as stack:
        esme = await stack.esme("other", "otherpw", "tx")
        stack.smscs["a"].respond_delay(0.5)
        try:

            def submit_then_unbind() -> list[int]:
                sent = [esme.submit(FR, f"m{i}".encode(), wait=False) for i in range(3)]
                esme.unbind()
                return [esme.wait_response(p.sequence, 10).status for p in sent]

            statuses = await to_thread.run_sync(submit_then_unbind)
            assert statuses == [S.ESME_ROK] * 3
        finally:
            esme.close()
