"""The console's upstreams and routes page (issue 17): the running proxy's status snapshot (faked here
by a stand-in with ``upstream_status()``, the proxy's method) and the route table in force; a viewer
sees it; without a proxy it says so."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from gateway.ops.admin import AdminServer
from gateway.proxy.pool_status import BindStatus, UpstreamStatus
from gateway.store import MemoryStore
from tests.stack import make_config
from tests.test_console import TOKENS
from tests.test_routes import TWO_SMSCS
from tools.console_client import admin_context, sign_in

pytestmark = pytest.mark.anyio

SINCE = 1_764_676_800.0  # 2025-12-02 12:00:00Z


class FakeProxy:
    """What :meth:`gateway.proxy.server.Proxy.upstream_status` returns, for two pooled upstreams."""

    def upstream_status(self) -> list[UpstreamStatus]:
        return [
            UpstreamStatus(
                name="sim",
                health="bound",
                since=SINCE,
                binds=(
                    BindStatus(0, "transceiver", "bound", SINCE, 3),
                    BindStatus(1, "transceiver", "bound", SINCE + 1, 0),
                ),
                tps=12.5,
                max_tps=50.0,
                breaker="closed",
                submits=12_345,
                errors=7,
                throttled=2,
                failovers=0,
                pooled=True,
            ),
            UpstreamStatus(
                name="agg",
                health="degraded",
                since=SINCE + 60,
                binds=(
                    BindStatus(0, "transmitter", "bound", SINCE, 0),
                    BindStatus(1, "receiver", "connecting", SINCE + 60, 0),
                ),
                tps=0.0,
                max_tps=None,
                breaker="half_open",
                submits=800,
                errors=41,
                throttled=0,
                failovers=41,
                pooled=True,
            ),
        ]


async def _client(tmp_path: Path, proxy: FakeProxy | None) -> tuple[AdminServer, MemoryStore]:
    store = MemoryStore()
    await store.open()
    config = make_config(tmp_path, 2775, {**TOKENS, **TWO_SMSCS})
    context = admin_context(
        store,
        config,
        **({"upstreams": proxy.upstream_status} if proxy else {}),
    )
    return AdminServer(context), store


async def _page(server: AdminServer, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://a") as c:
        await sign_in(c, token)
        return await c.get("/ui/upstreams")


def _cells(html: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.DOTALL)
    assert row is not None, row_id
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.DOTALL)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


async def test_a_viewer_sees_each_upstreams_health_binds_rate_errors_and_breaker(tmp_path: Path) -> None:
    server, _ = await _client(tmp_path, FakeProxy())
    page = await _page(server, "victor-token")  # the viewer role
    assert page.status_code == 200
    html = page.text
    started = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(SINCE))
    assert _cells(html, "upstream-sim") == [
        "sim",
        "bound",
        started,
        "2 of 2",
        "12.5 / 50",
        "closed",
        "12,345",
        "7",
        "2",
        "0",
    ]
    agg = _cells(html, "upstream-agg")
    assert agg[:6] == ["agg", "degraded", "2025-12-02 12:01:00Z", "1 of 2", "0.0", "half-open"]
    assert agg[7:] == ["41", "0", "41"]
    assert '<span class="level critical">' not in html.split('id="routes"')[0]  # nothing is down
    assert '<td>receiver</td><td><span class="level watch">connecting</span>' in html
    assert "Configured but not reported" not in html
    # The route table in force, in order, with its weights.
    routes = html.split('id="routes"')[1]
    assert re.findall(r'<tr><th scope="row">([^<]+)</th>', routes) == ["uk", "acme-rr", "default"]
    assert "+3531, +44" in routes and "agg (3), sim (1)" in routes and "round_robin" in routes


async def test_without_a_proxy_the_page_says_nothing_is_reported(tmp_path: Path) -> None:
    server, _ = await _client(tmp_path, None)
    page = await _page(server, "alice-token")
    assert page.status_code == 200
    assert "No upstream status reported" in page.text
    assert "Configured but not reported: agg, sim." in page.text
