"""``Proxy.upstream_status()`` (for ``GET /v1/upstreams`` and the console) in per-session mode: one
bind per bound ESME session's own upstream link; pooled mode is covered with the pools' tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from anyio import to_thread

from tests.esme import Esme
from tests.stack import running_stack


@pytest.mark.anyio
async def test_per_session_status_lists_each_sessions_upstream_link(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        proxy = stack.app.proxy
        assert proxy is not None and proxy.router is None
        [before] = proxy.upstream_status()
        assert (before.name, before.pooled, before.health, before.binds) == ("sim", False, "down", ())
        esmes = [Esme(stack.port), Esme(stack.port, "other", "otherpw")]
        try:
            await to_thread.run_sync(esmes[0].bind, "tx")
            await to_thread.run_sync(esmes[1].bind, "rx")
            [status] = proxy.upstream_status()
            assert status.health == "bound"
            assert sorted(b.mode for b in status.binds) == ["receiver", "transmitter"]
            assert {b.state for b in status.binds} == {"bound"}
        finally:
            for esme in esmes:
                esme.close()
