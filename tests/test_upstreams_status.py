"""``GET /v1/upstreams`` against a running stack, in per-session mode (each ESME session its own bind)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner, Result

from gateway.ops.admin.upstreams import upstream_json
from gateway.ops.cli.main import main
from gateway.ops.cli.upstreams import UPSTREAM_COLUMNS
from gateway.proxy.pool_status import BindStatus, UpstreamStatus
from tests.esme import Esme
from tests.stack import BASE, merge, running_stack
from tools.config_toml import to_toml

pytestmark = pytest.mark.anyio

TOKEN = "u" * 32
OVERRIDE: dict[str, Any] = {
    "admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN]},
    "session": {"shutdown_grace": 0.5},
    "upstream": [
        {"name": "sim", "host": "127.0.0.1", "port": 0, "system_id": "proxy", "password": "proxypw"},
        # Nothing is bound to it and the probe is off: no binds, health not known to be bad.
        {
            "name": "spare",
            "host": "127.0.0.1",
            "port": 0,
            "system_id": "proxy",
            "password": "proxypw",
            "probe_interval": 0,
        },
    ],
}


def _recent(text: str) -> bool:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.tzinfo is not None and abs((datetime.now(UTC) - when).total_seconds()) < 600


def _config_file(directory: Path, admin_port: int, smsc_port: int, token: str = TOKEN) -> Path:
    data = merge(BASE, OVERRIDE)
    data["admin"] = {"enabled": True, "listen": f"127.0.0.1:{admin_port}", "tokens": [token]}
    for upstream in data["upstream"]:
        upstream["port"] = smsc_port
    path = directory / "cli.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def _cli(directory: Path, admin_port: int, smsc_port: int, token: str = TOKEN) -> Result:
    path = _config_file(directory, admin_port, smsc_port, token)
    return CliRunner().invoke(main, ["upstreams", "--config", str(path)])



async def test_upstreams_lists_each_session_bind_and_health(tmp_path: Path) -> None:
    async with running_stack(tmp_path, OVERRIDE) as stack:
        admin = stack.app.admin
        assert admin is not None
        base = f"http://127.0.0.1:{admin.port}"  # type: ignore[attr-defined]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            assert (await client.get("/v1/upstreams")).status_code == 401
            idle = (await client.get("/v1/upstreams", headers=auth)).json()["items"]
            assert [(u["name"], u["health"], u["binds"], u["pooled"]) for u in idle] == [
                ("sim", "bound", [], False),
                ("spare", "bound", [], False),
            ]
            first, second = Esme(stack.port), Esme(stack.port)
            await anyio.to_thread.run_sync(first.bind)
            await anyio.to_thread.run_sync(second.bind, "tx")
            try:
                body = (await client.get("/v1/upstreams", headers=auth)).json()
                [sim, spare] = body["items"]
                assert sim["name"] == "sim" and sim["health"] == "bound" and _recent(sim["since"])
                assert sim["pooled"] is False and sim["max_tps"] is None and sim["breaker"] == "closed"
                assert sim["counters"] == {"submits": 0, "errors": 0, "throttled": 0, "failovers": 0}
                assert sorted(b["mode"] for b in sim["binds"]) == ["transceiver", "transmitter"]
                assert [b["index"] for b in sim["binds"]] == [0, 1]
                assert {b["state"] for b in sim["binds"]} == {"bound"}
                assert all(_recent(b["since"]) and b["in_flight"] == 0 for b in sim["binds"])
                assert spare["binds"] == []

                # The CLI prints the same, asked through the API named in the config file.
                shown = await anyio.to_thread.run_sync(_cli, tmp_path, admin.port, stack.smsc.port)  # type: ignore[attr-defined]
                assert shown.exit_code == 0, shown.output
                lines = shown.output.splitlines()
                assert lines[0].split() == UPSTREAM_COLUMNS
                sim_row = next(line.split() for line in lines if line.startswith("sim "))
                assert sim_row[1:3] == [f"127.0.0.1:{stack.smsc.port}", "bound"]
                assert sim_row[-1] == "2/2" and "no" in sim_row
                bind_lines = [line.split() for line in lines if line.startswith("sim ")][1:]
                assert sorted(b[2] for b in bind_lines) == ["transceiver", "transmitter"]
                assert all(b[3] == "bound" and b[-1] == "0" for b in bind_lines)

                # One session's upstream link lost: that bind is down, the upstream degraded.
                proxy = stack.app.proxy
                assert proxy is not None
                session = next(s for s in proxy.sessions if s.bound)
                real = session.upstream
                session.upstream = SimpleNamespace(closed=True)  # type: ignore[assignment]
                try:
                    [sim, _] = (await client.get("/v1/upstreams", headers=auth)).json()["items"]
                finally:
                    session.upstream = real
                assert sim["health"] == "degraded"
                assert sorted(b["state"] for b in sim["binds"]) == ["bound", "down"]
            finally:
                for esme in (first, second):
                    await anyio.to_thread.run_sync(esme.leave)


def test_the_json_of_a_pooled_upstream() -> None:
    status = UpstreamStatus(
        name="uk-smsc",
        health="degraded",
        since=1_700_000_000.0,
        binds=(
            BindStatus(index=0, mode="transceiver", state="bound", since=1_700_000_000.0, in_flight=3),
            BindStatus(index=1, mode="transceiver", state="connecting", since=1_700_000_100.5, in_flight=0),
        ),
        tps=12.3456,
        max_tps=50.0,
        breaker="half_open",
        submits=10,
        errors=2,
        throttled=1,
        failovers=4,
        pooled=True,
    )
    since, later = "2023-11-14T22:13:20Z", "2023-11-14T22:15:00Z"
    assert upstream_json(status) == {
        "name": "uk-smsc",
        "health": "degraded",
        "since": since,
        "pooled": True,
        "max_tps": 50.0,
        "tps": 12.35,
        "breaker": "half_open",
        "counters": {"submits": 10, "errors": 2, "throttled": 1, "failovers": 4},
        "binds": [
            {"index": 0, "mode": "transceiver", "state": "bound", "since": since, "in_flight": 3},
            {"index": 1, "mode": "transceiver", "state": "connecting", "since": later, "in_flight": 0},
        ],
    }


def test_the_cli_without_a_running_proxy_lists_the_config_and_fails_in_one_line(tmp_path: Path) -> None:
    from tools.ports import free_port

    result = _cli(tmp_path, free_port(), 2776)
    assert result.exit_code == 2
    out = result.output.splitlines()
    assert [line.split()[:3] for line in out[2:4]] == [
        ["sim", "127.0.0.1:2776", "?"],
        ["spare", "127.0.0.1:2776", "?"],
    ]
    assert out[-1].startswith("stopgate: cannot reach the admin API at 127.0.0.1:")
    assert out[-1].endswith("live state unknown")
