"""Config reload (SIGHUP) under traffic, and the `stopgate run` lifecycle as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.metrics import Metrics
from gateway.optout.engine import OptoutPolicy
from gateway.store.index import SuppressionIndex
from gateway.store.memory import MemoryStore
from tests.config_file import config_data, running_file_stack
from tests.esme import Esme
from tests.stack import make_config
from tests.test_optout_engine import Clock, Session, mo_part
from tools.config_toml import to_toml
from tools.ports import free_port
from tools.smsc_sim import SimulatedSmsc

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
OVERRIDE: dict[str, Any] = {"session": {"shutdown_grace": 0.5}}


def with_account(data: dict[str, Any], system_id: str, **changes: Any) -> dict[str, Any]:
    for account in data["account"]:
        if account["system_id"] == system_id:
            account.update(changes)
    return data


def leave(esme: Esme) -> None:
    try:
        esme.unbind()
        esme.wait_closed(2.0)
    finally:
        esme.close()


async def test_reload_under_traffic_keeps_sessions_and_applies_the_new_footer(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, path):
        esme = Esme(stack.port)
        await anyio.to_thread.run_sync(esme.bind)
        proxy = stack.app.proxy
        assert proxy is not None
        sessions_before = set(proxy.sessions)
        statuses: list[int] = []
        stop = anyio.Event()

        async def traffic() -> None:
            while not stop.is_set():
                resp = await anyio.to_thread.run_sync(esme.submit, "447700900501", "Offer")
                statuses.append(int(resp.status))

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(traffic)
                await stack.smsc.wait_for_submits(5)
                assert stack.smsc.received[0].text == "Offer Reply STOP to opt out"

                data = with_account(
                    config_data(stack.smsc.port, OVERRIDE), "acme", footer="Text STOP to quit"
                )
                path.write_text(to_toml(data), encoding="utf-8")
                assert stack.app.reload() is True
                sent_at_reload = stack.smsc.submit_count
                await stack.smsc.wait_for_submits(sent_at_reload + 5)

                # An invalid file is refused; the configuration in force stays.
                path.write_text("[account\nfooter = ", encoding="utf-8")
                assert stack.app.reload() is False
                await stack.smsc.wait_for_submits(stack.smsc.submit_count + 5)
                stop.set()

            texts = [r.text for r in stack.smsc.received]
            assert texts[-1] == "Offer Text STOP to quit"
            assert "Offer Text STOP to quit" in texts[sent_at_reload + 1 :][:2]  # the next message or so
            assert stack.app.config.accounts["acme"].footer == "Text STOP to quit"
            assert set(statuses) == {0}, statuses  # no message failed across both reloads
            assert esme.listen_error is None  # the ESME was never disconnected
            assert set(proxy.sessions) == sessions_before and proxy.session_counts == {"acme": 1}
        finally:
            await anyio.to_thread.run_sync(leave, esme)


async def test_reload_applies_new_texts_to_keyword_replies(tmp_path: Path) -> None:
    async with running_file_stack(tmp_path, OVERRIDE) as (stack, path):
        esme = Esme(stack.port)
        await anyio.to_thread.run_sync(esme.bind)
        try:
            data = with_account(config_data(stack.smsc.port, OVERRIDE), "acme", help="New help text.")
            path.write_text(to_toml(data), encoding="utf-8")
            assert stack.app.reload() is True
            await stack.smsc.deliver(source_addr="447700900601", destination_addr="88088", text="HELP")
            [reply] = await stack.smsc.wait_for_submits(1)
            assert reply.text == "New help text." and reply.destination_addr == "447700900601"
        finally:
            await anyio.to_thread.run_sync(leave, esme)


async def test_reload_applies_a_new_reassembly_timeout_to_the_parts_waiting(tmp_path: Path) -> None:
    clock = Clock()
    config = make_config(tmp_path, 1, {"optout": {"reassembly_timeout": 60.0}})
    policy = OptoutPolicy(config, MemoryStore(), SuppressionIndex(), Metrics(), clock=clock)
    session = Session(config.accounts["acme"])
    policy.on_deliver(session, mo_part(5, 2, 1, "Please "))
    started = clock.now
    assert policy.next_deadline() == started + 60.0

    policy.reload(make_config(tmp_path, 1, {"optout": {"reassembly_timeout": 5.0}}))
    assert policy.next_deadline() == started + 5.0  # the new timeout, from the first part's arrival
    clock.now += 5.0
    await policy.handle_timer(clock.now)
    assert len(policy.reassembler) == 0


async def test_reload_to_a_lower_capacity_reports_the_long_mos_it_drops(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1, {"optout": {"max_held_messages": 3}})
    policy = OptoutPolicy(config, MemoryStore(), SuppressionIndex(), Metrics())
    session = Session(config.accounts["acme"])
    policy.on_deliver(session, mo_part(1, 2, 1, "one "))
    policy.on_deliver(session, mo_part(2, 2, 1, "two "))
    policy.reload(make_config(tmp_path, 1, {"optout": {"max_held_messages": 1}}))
    assert len(policy.reassembler) == 1
    assert policy.metrics.registry.get_sample_value("stopgate_mo_messages_evicted_total") == 1.0


async def test_reload_rebuilds_the_policies_of_changed_accounts_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1)
    policy = OptoutPolicy(config, MemoryStore(), SuppressionIndex(), Metrics())
    before = dict(policy.accounts)
    data = config_data(1)
    with_account(data, "acme", footer="Text STOP to quit")
    policy.reload(make_config(tmp_path, 1, {"account": data["account"]}))
    assert policy.accounts["acme"] is not before["acme"]
    assert policy.accounts["acme"].config.footer == "Text STOP to quit"
    assert policy.accounts["acmeotp"] is before["acmeotp"]
    assert policy.mt.accounts is policy.accounts and policy.mo.accounts is policy.accounts


# -- `stopgate run` as a process -------------------------------------------------------------------


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def wait_for(predicate: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.05)


async def test_stopgate_run_survives_a_bad_sighup_and_drains_on_sigterm(tmp_path: Path) -> None:
    proxy_port, admin_port = free_port(), free_port()
    token = "run-token"
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        override = {
            "listen": {"port": proxy_port},
            "admin": {"enabled": True, "listen": f"127.0.0.1:{admin_port}", "tokens": [token]},
            "logging": {"format": "json", "level": "info"},
            "session": {"shutdown_grace": 1.0},
        }
        data = config_data(smsc.port, override)
        path = tmp_path / "stopgate.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        log_path = tmp_path / "run.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "STOPGATE_ADMIN_TOKEN": ""}
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        esme: Esme | None = None
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin_port}", timeout=2) as client:

                async def healthy() -> bool:
                    assert proc.poll() is None, log_path.read_text()
                    try:
                        return (await client.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_for(healthy, "the admin API")
                esme = Esme(proxy_port)
                await anyio.to_thread.run_sync(esme.bind)
                resp = await anyio.to_thread.run_sync(esme.submit, "447700900701", "Hi")
                assert resp.status == 0

                async def logged(text: str) -> bool:
                    return text in log_path.read_text()

                # A valid change is applied to the bound session's next message.
                new = with_account(config_data(smsc.port, override), "acme", footer="Stop? Text STOP")
                path.write_text(to_toml(new), encoding="utf-8")
                proc.send_signal(signal.SIGHUP)
                await wait_for(lambda: logged("config reloaded"), "the reload")
                resp = await anyio.to_thread.run_sync(esme.submit, "447700900701", "Hi")
                assert resp.status == 0 and smsc.received[-1].text == "Hi Stop? Text STOP"

                # An invalid file is refused and everything keeps serving.
                path.write_text("[admin\nlisten = ", encoding="utf-8")
                proc.send_signal(signal.SIGHUP)
                await wait_for(lambda: logged("reload refused"), "the refused reload")
                assert proc.poll() is None
                assert (await client.get("/healthz")).status_code == 200
                ready = await client.get("/readyz")
                assert ready.status_code == 200, ready.text
                resp = await anyio.to_thread.run_sync(esme.submit, "447700900701", "Hi")
                assert resp.status == 0 and smsc.received[-1].text == "Hi Stop? Text STOP"
                events = await client.get("/v1/events", headers={"Authorization": f"Bearer {token}"})
                assert events.status_code == 200

                proc.send_signal(signal.SIGTERM)
                code = await anyio.to_thread.run_sync(lambda: proc.wait(timeout=15))
                assert code == 0, log_path.read_text()
                await anyio.to_thread.run_sync(esme.wait_closed, 2.0)  # the proxy unbound it
                assert refused(admin_port) and refused(proxy_port)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if esme is not None:
                await anyio.to_thread.run_sync(esme.close)
            with anyio.CancelScope(shield=True):
                await smsc.stop()
            tg.cancel_scope.cancel()
