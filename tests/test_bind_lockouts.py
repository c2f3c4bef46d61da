"""Bind lockouts per (source address, system_id) (issue 18 item 3): one account's typos never lock
out another account binding from the same host; an operator lifts a lockout through the admin API or
``stopgate security unlock``; a lockout is a warning log line naming account and address, and a metric."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from gateway.proxy.throttle import BindThrottle
from gateway.smpp.constants import CommandStatus as S
from tests.live import live_stack
from tools.smpp_peer import connect_peer

pytestmark = pytest.mark.anyio

SECURITY = {
    "max_failed_binds": 3,
    "failed_bind_window": 60.0,
    "lockout_seconds": 60.0,
    "max_lockout_seconds": 600.0,
}


async def bind_status(port: int, system_id: str, password: str) -> int:
    async with connect_peer(port) as esme:
        return int((await esme.bind(system_id, password, check=False)).command_status)


def stopgate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_throttle_keys_on_address_and_system_id() -> None:
    throttle = BindThrottle(max_failures=2, window=60, lockout=10, max_lockout=60)
    assert not throttle.failed(("10.0.0.1", "acme"), 0)
    assert throttle.failed(("10.0.0.1", "acme"), 1)
    assert throttle.locked(("10.0.0.1", "acme"), 2)
    assert not throttle.locked(("10.0.0.1", "other"), 2)
    assert not throttle.locked(("10.0.0.2", "acme"), 2)
    [lockout] = throttle.lockouts(2)
    assert (lockout.ip, lockout.system_id, lockout.remaining, lockout.count) == ("10.0.0.1", "acme", 9, 1)
    assert throttle.unlock("10.0.0.1", "other", 2) == []
    assert [x.system_id for x in throttle.unlock("10.0.0.1", None, 2)] == ["acme"]
    assert not throttle.locked(("10.0.0.1", "acme"), 2)


async def test_a_lockout_is_per_account_logged_counted_and_lifted(tmp_path: Path) -> None:
    async with live_stack(tmp_path, {"security": SECURITY}, admin=True) as live:
        port = live.port
        assert [await bind_status(port, "acme", f"wrong{i}") for i in range(3)] == [S.ESME_RINVPASWD] * 3
        assert await bind_status(port, "acme", "acmepw") == S.ESME_RBINDFAIL
        # Another account from the same address: its correct password is never refused.
        assert await bind_status(port, "other", "otherpw") == S.ESME_ROK
        lines = [json.loads(line) for line in live.log().splitlines() if '"bind lockout"' in line]
        assert [(x["level"], x["system_id"], x["peer"]) for x in lines] == [("warning", "acme", "127.0.0.1")]
        metrics = (await live.admin("/metrics")).text
        assert 'stopgate_bind_lockouts_total{account="acme"} 1.0' in metrics
        listed = (await live.admin("/v1/lockouts")).json()["items"]
        assert [(x["ip"], x["system_id"], x["count"]) for x in listed] == [("127.0.0.1", "acme", 1)]
        # The CLI asks the running proxy through the admin API.
        shown = await anyio.to_thread.run_sync(stopgate, live.config_path, "security", "lockouts")
        assert shown.returncode == 0 and "127.0.0.1\tacme" in shown.stdout, shown.stderr
        other = await anyio.to_thread.run_sync(
            stopgate, live.config_path, "security", "unlock", "--ip", "127.0.0.1", "--system-id", "other"
        )
        assert other.returncode == 0 and "no lockout in force" in other.stdout
        lifted = await anyio.to_thread.run_sync(
            stopgate, live.config_path, "security", "unlock", "--ip", "127.0.0.1", "--system-id", "acme"
        )
        assert lifted.returncode == 0 and "lifted 1 lockout(s)" in lifted.stdout, lifted.stderr
        assert await bind_status(port, "acme", "acmepw") == S.ESME_ROK
        assert (await live.admin("/v1/lockouts")).json()["items"] == []
        # The API route lifts one too.
        assert [await bind_status(port, "acme", f"again{i}") for i in range(3)] == [S.ESME_RINVPASWD] * 3
        assert await bind_status(port, "acme", "acmepw") == S.ESME_RBINDFAIL
        answer = await live.admin("/v1/lockouts?ip=127.0.0.1", method="DELETE")
        assert answer.status_code == 200 and len(answer.json()["items"]) == 1
        assert await bind_status(port, "acme", "acmepw") == S.ESME_ROK
        bad = await live.admin("/v1/lockouts?ip=nope", method="DELETE")
        assert bad.status_code == 400


def test_unlock_without_a_running_proxy_is_one_line(tmp_path: Path) -> None:
    from tests.live import live_config
    from tools.config_toml import to_toml

    data, _, _ = live_config(1, admin=True)
    path = tmp_path / "stopgate.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    made = stopgate(path, "security", "unlock", "--ip", "127.0.0.1")
    assert made.returncode == 2 and made.stderr.count("\n") == 1
    assert "cannot reach the admin API" in made.stderr
