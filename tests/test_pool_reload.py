"""Pooled mode and SIGHUP (issue 14): routes swap at once, an upstream added opens its binds, one
removed closes them, and the ESME sessions stay bound throughout. The per-upstream metrics follow."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio import to_thread
from prometheus_client import generate_latest

from gateway.smpp.constants import CommandStatus
from tests.pool_stack import pooled_stack, upstream

S = CommandStatus
FR = "33612345678"


@pytest.mark.anyio
async def test_reload_adds_and_removes_upstreams_and_swaps_routes(tmp_path: Path) -> None:
    routes = [{"name": "default", "upstreams": ["b"]}]
    async with pooled_stack(tmp_path, routes, names=("a", "b")) as stack:
        esme = await stack.esme("other", "otherpw", "tx")
        try:
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"one"))
            assert resp.message_id.startswith(b"b-")
            assert "c" not in stack.router.pools and not stack.smscs["c"].bound_sessions

            kept = [u for u in stack.data["upstream"] if u["name"] == "a"]
            stack.reload(
                upstream=[*kept, upstream("c", stack.upstream_port("c"), binds=2)],
                route=[{"name": "default", "upstreams": ["c"]}],
            )
            await stack.wait_bound("c")
            assert len(stack.smscs["c"].bound_sessions) == 2
            with anyio.fail_after(5):
                while stack.smscs["b"].bound_sessions:  # b's bind closed
                    await anyio.sleep(0.02)
            assert "b" not in stack.router.pools

            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"two"))  # the same ESME session
            assert resp.status == S.ESME_ROK and resp.message_id.startswith(b"c-")

            scraped = generate_latest(stack.app.metrics.registry).decode()
            assert 'stopgate_upstream_submits_total{route="default",upstream="c"} 1.0' in scraped
            assert 'stopgate_upstream_submits_total{route="default",upstream="b"} 1.0' not in scraped  # gone
            assert 'stopgate_upstream_bind_state{bind="1",upstream="c"} 1.0' in scraped
            assert 'stopgate_upstream_up{upstream="c"} 1.0' in scraped
        finally:
            esme.close()


@pytest.mark.anyio
async def test_a_reload_without_routes_keeps_pooled_mode_until_a_restart(tmp_path: Path) -> None:
    routes = [{"name": "default", "upstreams": ["b"]}]
    async with pooled_stack(tmp_path, routes, names=("a", "b")) as stack:
        esme = await stack.esme("other", "otherpw", "tx")
        try:
            stack.reload(route=[])
            assert stack.app.proxy is not None and stack.app.proxy.router is stack.router
            assert [r.name for r in stack.app.proxy.config.routes] == ["default"]
            resp = await to_thread.run_sync(lambda: esme.submit(FR, b"still routed"))
            assert resp.status == S.ESME_ROK and resp.message_id.startswith(b"b-")
        finally:
            esme.close()
