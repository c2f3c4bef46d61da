"""Changes made through the CLI or the admin API reach live traffic: blocked within a second.

The proxy serves a real smpplib client; the CLI runs as a separate process writing the same store, and
the proxy's change follower picks the change up from the store's change feed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.smpp.constants import CommandStatus
from tests.config_file import running_file_stack, write_config
from tests.esme import Esme

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "live-token"
OVERRIDE: dict[str, Any] = {
    "admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN]},
    "session": {"shutdown_grace": 0.5},
}
BLOCKED = int(CommandStatus.ESME_RSUBMITFAIL)
NUMBER = "447700900401"


async def cli(config: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STOPGATE_ADMIN_TOKEN": ""}
    proc = await anyio.run_process(
        [sys.executable, "-m", "gateway", *args, "--config", str(config)], env=env, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()


async def submit_status(esme: Esme, number: str = NUMBER) -> int:
    resp = await anyio.to_thread.run_sync(esme.submit, number, "Big sale today")
    return int(resp.status)


async def wait_for_status(esme: Esme, wanted: int, limit: float = 1.0) -> float:
    """Submit every 50 ms until the answer has ``wanted`` status; the delay (fails after ``limit``)."""
    started = time.perf_counter()
    while True:
        status = await submit_status(esme)
        elapsed = time.perf_counter() - started
        if status == wanted:
            return elapsed
        assert elapsed <= limit, f"status still 0x{status:08x} after {elapsed:.3f}s"
        await anyio.sleep(0.05)


def leave(esme: Esme) -> None:
    try:
        esme.unbind()
        esme.wait_closed(2.0)
    finally:
        esme.close()


async def test_cli_changes_reach_a_serving_proxy_within_one_second(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, config):
        esme = Esme(stack.port)
        await anyio.to_thread.run_sync(esme.bind)
        try:
            assert await submit_status(esme) == 0
            await cli(config, "optouts", "add", "+" + NUMBER, "--scope", "acme", "--reason", "live test")
            delay = await wait_for_status(esme, BLOCKED)
            print(f"\nCLI add -> blocked after {delay * 1000:.0f} ms")

            await cli(config, "optouts", "remove", "07700900401", "--scope", "acme", "--reason", "consent")
            delay = await wait_for_status(esme, 0)
            print(f"CLI remove -> allowed after {delay * 1000:.0f} ms")

            csv_path = tmp_path / "list.csv"
            csv_path.write_text("number\n07700 900401\n07700 900402\n", encoding="utf-8")
            await cli(config, "optouts", "import", str(csv_path), "--scope", "acme")
            delay = await wait_for_status(esme, BLOCKED)
            print(f"CLI import -> blocked after {delay * 1000:.0f} ms")
            # Another scope is not affected.
            other = Esme(stack.port, "other", "otherpw")
            await anyio.to_thread.run_sync(other.bind)
            try:
                assert await submit_status(other) == 0
            finally:
                await anyio.to_thread.run_sync(leave, other)
        finally:
            await anyio.to_thread.run_sync(leave, esme)


async def test_api_changes_apply_to_the_next_submit(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, _config):
        admin = stack.app.admin
        headers = {"Authorization": f"Bearer {TOKEN}"}
        esme = Esme(stack.port)
        await anyio.to_thread.run_sync(esme.bind)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{admin.port}", headers=headers
            ) as client:
                assert await submit_status(esme) == 0
                resp = await client.post("/v1/suppressions", json={"number": "07700900401", "scope": "acme"})
                assert resp.status_code == 201
                assert await submit_status(esme) == BLOCKED  # no polling: applied before the response
                resp = await client.delete(
                    "/v1/suppressions/+447700900401", params={"scope": "acme", "reason": "consent"}
                )
                assert resp.status_code == 200
                assert await submit_status(esme) == 0
        finally:
            await anyio.to_thread.run_sync(leave, esme)


async def test_cli_change_made_while_no_proxy_runs(tmp_path: Path) -> None:
    # The CLI writes the store the proxy will use (same file, same directory).
    offline = write_config(tmp_path / "offline.toml", 2776)
    await cli(offline, "optouts", "add", "07700900401", "--scope", "acme")
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, _config):
        esme = Esme(stack.port)
        await anyio.to_thread.run_sync(esme.bind)
        try:
            assert await submit_status(esme) == BLOCKED
        finally:
            await anyio.to_thread.run_sync(leave, esme)
