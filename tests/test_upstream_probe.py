"""A dead SMSC is noticed while no client is bound (issue 18 item 7): the proxy probes each upstream
nothing is bound to, and /readyz and stopgate_upstream_up{upstream} report it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.live import live_stack
from tests.stack import BASE

pytestmark = pytest.mark.anyio


async def test_a_killed_smsc_is_reported_with_no_client_bound(tmp_path: Path) -> None:
    override = {"upstream": [{**BASE["upstream"][0], "probe_interval": 0.2}]}
    async with live_stack(tmp_path, override, admin=True) as live:

        async def ready() -> int:
            return (await live.admin("/readyz")).status_code

        with anyio.fail_after(10):
            while 'stopgate_upstream_up{upstream="sim"} 1.0' not in (await live.admin("/metrics")).text:
                await anyio.sleep(0.1)
        assert await ready() == 200
        await live.smsc.stop()
        with anyio.fail_after(10):
            while await ready() != 503:
                await anyio.sleep(0.1)
        answer = (await live.admin("/readyz")).json()
        assert answer["checks"]["upstream sim"] == "unreachable"
        assert "upstream sim is unreachable (TCP connect probe; no account bound)" in answer["reasons"]
        assert 'stopgate_upstream_up{upstream="sim"} 0.0' in (await live.admin("/metrics")).text
