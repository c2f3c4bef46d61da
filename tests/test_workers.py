"""`stopgate run --workers 2` on PostgreSQL (issue 15): two worker processes share the SMPP port
(SO_REUSEPORT) under a supervisor; kill -9 of one worker during a burst of STOPs loses no acknowledged
opt-out, the supervisor restarts it, the other keeps serving; SIGTERM drains them all."""

from __future__ import annotations

import os
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from gateway.store.postgres import PostgresStore
from tests.live import live_config
from tests.pgdb import pg_url
from tools.config_toml import to_toml
from tools.ports import wait_port
from tools.reliability import burst_numbers, lost_optouts, stop_burst
from tools.smpp_peer import connect_peer
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest

PEERS = 12  # connections the kernel spreads over the workers: all on one worker has p = 2/4096


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


async def _suppressed(url: str, scope: str) -> set[str]:
    async with PostgresStore(url) as store:
        return {s.number async for s in store.iter_suppressions(scope)}


def submit_to(number: str) -> SubmitSm:
    return SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=b"Sale")


async def test_kill_9_of_one_worker_under_load_restarts_it_and_loses_no_acknowledged_stop(
    tmp_path: Path, pg_url: str
) -> None:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        data, port, admin_port = live_config(smsc.port, {"storage": {"url": pg_url}}, admin=True)
        path = tmp_path / "stopgate.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        async with stopgate_process(
            path, port, admin_port=admin_port, args=["--workers", "2"], term_grace=20
        ) as supervisor:
            with anyio.fail_after(20):
                log_path = tmp_path / "stopgate.log"
                while len(children(supervisor.pid)) < 2 or log_path.read_text().count('"listening"') < 2:
                    await anyio.sleep(0.1)
            workers = children(supervisor.pid)
            async with AsyncExitStack() as peers_stack:
                for _ in range(PEERS):
                    peer = await peers_stack.enter_async_context(connect_peer(port))
                    await peer.bind("acme", "acmepw")
                await smsc.wait_for_binds(2)  # an upstream session from each worker: both have ESMEs

                victim = min(workers)
                numbers = burst_numbers(1000)
                result = await stop_burst(
                    smsc, numbers, kill_after=300, kill=lambda: os.kill(victim, signal.SIGKILL)
                )
                print(
                    f"\nworker {victim} killed after {result.killed_after_acks} acks; acked"
                    f" {len(result.acked)}, unanswered {result.unanswered}"
                )
                assert result.refused == {}
                assert len(result.acked) >= 300
                assert lost_optouts(result.acked, await _suppressed(pg_url, "acme")) == set()

                with anyio.fail_after(15):  # restarted by the supervisor
                    while len(children(supervisor.pid) - {victim}) < 2:
                        await anyio.sleep(0.1)
                assert "worker died; restarting" in (tmp_path / "stopgate.log").read_text()

                # The other worker kept serving: its ESMEs are still bound and its STOPs answered.
                more = burst_numbers(200, first=5000)
                after = await stop_burst(smsc, more, kill_after=None, kill=lambda: None)
                assert after.refused == {} and len(after.acked) == 200, after
                assert lost_optouts(after.acked, await _suppressed(pg_url, "acme")) == set()

                # Every worker (the restarted one too) refuses marketing to every acknowledged STOP.
                await wait_port(port)
                before = smsc.submit_count
                for _ in range(6):
                    async with connect_peer(port) as esme:
                        await esme.bind("acme", "acmepw")
                        for number in sorted(result.acked)[:20] + sorted(after.acked)[:20]:
                            resp = await esme.request(submit_to(number))
                            assert resp.command_status == CommandStatus.ESME_RSUBMITFAIL, number
                assert smsc.submit_count == before
            supervisor.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                assert await supervisor.wait() == 0
        log = (tmp_path / "stopgate.log").read_text()
        assert "all workers stopped" in log
        await smsc.stop()
        tg.cancel_scope.cancel()


def _by_worker(metrics: str, name: str, **labels: str) -> dict[str, float]:
    """Samples ``name`` matching ``labels``, summed by their ``worker`` label."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                worker = sample.labels["worker"]
                out[worker] = out.get(worker, 0.0) + sample.value
    return out


async def test_one_metrics_scrape_holds_the_figures_of_every_worker(tmp_path: Path) -> None:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        data, port, admin_port = live_config(smsc.port, admin=True)  # SQLite: the workers share the file
        path = tmp_path / "stopgate.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        async with stopgate_process(
            path, port, admin_port=admin_port, args=["--workers", "2"], term_grace=20
        ) as supervisor:
            with anyio.fail_after(20):
                log_path = tmp_path / "stopgate.log"
                while len(children(supervisor.pid)) < 2 or log_path.read_text().count('"listening"') < 2:
                    await anyio.sleep(0.1)
            async with AsyncExitStack() as peers_stack:
                for i in range(PEERS):
                    peer = await peers_stack.enter_async_context(connect_peer(port))
                    await peer.bind("acme", "acmepw")
                    resp = await peer.request(submit_to(f"+4477009000{i:02d}"))
                    assert resp.command_status == CommandStatus.ESME_ROK
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin_port}") as client:
                    reply = await client.get("/metrics", timeout=10)
                assert reply.status_code == 200
                text = reply.text
        await smsc.stop()
        tg.cancel_scope.cancel()
    assert _by_worker(text, "stopgate_worker_up") == {"0": 1.0, "1": 1.0}
    bound = _by_worker(text, "stopgate_bound_sessions", account="acme")
    submits = _by_worker(
        text, "stopgate_pdus_total", leg="esme", direction="in", command="submit_sm", status="0x00000000"
    )
    # Both workers served ESMEs (the kernel spread the connections), and one scrape counts them all.
    assert set(bound) == {"0", "1"} and all(v > 0 for v in bound.values()), bound
    assert sum(bound.values()) == PEERS
    assert set(submits) == {"0", "1"} and sum(submits.values()) == PEERS, submits
    # Each family appears once, with both workers' samples in it.
    assert text.count("# TYPE stopgate_pdus_total counter") == 1
