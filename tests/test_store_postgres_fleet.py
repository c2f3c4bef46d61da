"""Stopgate on PostgreSQL end to end: three stacks on one database (smpplib -> Stopgate -> simulated
SMSC), a STOP answered by one process is refused as a destination by the other two within 1 s; and a
real `stopgate run` killed with SIGKILL in a burst of STOPs loses no acknowledged opt-out; and one
that loses its database under traffic keeps blocking and recovers by itself."""

from __future__ import annotations

import random
import time
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import psycopg
import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from gateway.store.postgres import PostgresStore
from tests.esme import Esme
from tests.live import live_stack
from tests.pgdb import ADMIN_URL, pg_url
from tests.stack import Stack, running_stack
from tools.reliability import burst_numbers, lost_optouts, stop_burst
from tools.smpp_peer import connect_peer
from tools.smsc_sim import SimulatedSmsc

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest

SHORT_CODE = "88088"


async def bound(stack: Stack) -> Esme:
    esme = Esme(stack.port, "acme", "acmepw")
    await to_thread.run_sync(esme.bind, "trx")
    return esme


async def test_a_stop_through_one_process_blocks_marketing_through_the_others(
    tmp_path: Path, pg_url: str
) -> None:
    async with AsyncExitStack() as exits:
        stacks: list[Stack] = []
        for name in "abc":
            (tmp_path / name).mkdir()
            stacks.append(
                await exits.enter_async_context(
                    running_stack(tmp_path / name, {"storage": {"url": pg_url}})
                )
            )
        a, b, c = stacks
        esmes = [await bound(s) for s in stacks]
        delays: list[float] = []
        acks: list[float] = []
        for i in range(20):
            number = f"4477009007{i:02d}"
            started = time.perf_counter()
            status = await a.smsc.deliver(source_addr=number, destination_addr=SHORT_CODE, text="STOP")
            assert status.command_status == CommandStatus.ESME_ROK
            acked = time.perf_counter()
            for other in (b, c):
                assert other.app.feed is not None
                with anyio.fail_after(1.0):  # the fleet rule: refused everywhere within 1 s
                    while not other.app.feed.index.contains("acme", "+" + number):
                        await anyio.sleep(0.002)
            delays.append(time.perf_counter() - acked)
            acks.append(acked - started)
            for esme, other in ((esmes[1], b), (esmes[2], c)):
                resp = await to_thread.run_sync(lambda e=esme, n=number: e.submit(n, "Big sale today"))
                assert resp.status == CommandStatus.ESME_RSUBMITFAIL
                assert not [r for r in other.smsc.submits_to(number) if r.source_addr != SHORT_CODE]
        delays.sort()
        acks.sort()
        print(
            f"STOP acknowledged by A: p50 {acks[len(acks) // 2] * 1e3:.1f} ms;"
            f" then in B's and C's index: p50 {delays[len(delays) // 2] * 1e3:.1f} ms,"
            f" max {delays[-1] * 1e3:.1f} ms ({len(delays)} STOPs)"
        )
        for esme in esmes:
            esme.close()


async def _suppressed(url: str, scope: str) -> set[str]:
    async with PostgresStore(url) as store:
        return {s.number async for s in store.iter_suppressions(scope)}


async def test_kill_9_during_a_burst_of_2000_stops_loses_no_acknowledged_optout(
    tmp_path: Path, pg_url: str
) -> None:
    """The SQLite test of tests/test_reliability_store.py, on PostgreSQL: a real `stopgate run`."""
    kill_after = random.Random(15).randint(200, 1800)
    numbers = burst_numbers(2000)
    async with live_stack(tmp_path, {"storage": {"url": pg_url}}) as live:
        async with connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            await live.smsc.wait_for_binds(1)
            result = await stop_burst(live.smsc, numbers, kill_after=kill_after, kill=live.process.kill)
        assert await live.process.wait() == -9
        assert result.killed_after_acks is not None and len(result.acked) >= kill_after
        assert result.refused == {}
        suppressed = await _suppressed(pg_url, "acme")
        print(
            f"\nkilled after {result.killed_after_acks} acks; acked {len(result.acked)},"
            f" in PostgreSQL {len(suppressed)}"
        )
        assert lost_optouts(result.acked, suppressed) == set()
        async with live.restart(), connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            await live.smsc.wait_for_binds(1)
            before = live.smsc.submit_count
            for number in random.Random(15).sample(sorted(result.acked), 50):
                resp = await esme.request(submit_to(number))
                assert resp.command_status == CommandStatus.ESME_RSUBMITFAIL, number
            assert live.smsc.submit_count == before


def _outage(url: str, down: bool) -> None:
    """Cut this test's database off (no new connections, current ones killed) or let it back."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down).lower()}'.encode())
        if down:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )


async def test_database_outage_refuses_unrecordable_optouts_keeps_blocking_and_recovers(
    tmp_path: Path, pg_url: str
) -> None:
    """PostgreSQL unreachable under traffic (this test's database only: the server is shared):
    STOPs answered ESME_RX_T_APPN so the SMSC redelivers, blocking continues from memory, /readyz
    503, and recovery without restarting Stopgate. Failing closed past ``optout.max_feed_lag`` is
    tests/test_fleet_blind.py's: off here, so other numbers' marketing goes on however long the
    outage's requests take."""
    a, b, c = "447700900601", "447700900602", "447700900603"
    settings = {"storage": {"url": pg_url}, "optout": {"max_feed_lag": 0}}
    async with (
        live_stack(tmp_path, settings, admin=True) as live,
        connect_peer(live.port) as esme,
    ):
        smsc = live.smsc
        await esme.bind("acme", "acmepw")
        assert (await mo(smsc, a)) == CommandStatus.ESME_ROK
        assert (await live.admin("/readyz")).status_code == 200
        await to_thread.run_sync(_outage, pg_url, True)
        try:
            assert (await mo(smsc, b)) == CommandStatus.ESME_RX_T_APPN
            ready = await live.admin("/readyz")
            assert ready.status_code == 503
            blocked = CommandStatus.ESME_RSUBMITFAIL
            assert (await esme.request(submit_to(a))).command_status == blocked  # from memory
            assert (await esme.request(submit_to(b))).command_status == blocked  # held
            assert (await esme.request(submit_to(c))).command_status == CommandStatus.ESME_ROK
            assert live.alive
        finally:
            await to_thread.run_sync(_outage, pg_url, False)
        with anyio.fail_after(20):
            while (await live.admin("/readyz")).status_code != 200:
                await anyio.sleep(0.2)
        assert (await mo(smsc, b)) == CommandStatus.ESME_ROK  # the redelivery is recorded now
    assert await _suppressed(pg_url, "acme") >= {"+" + a, "+" + b}
    assert "+" + c not in await _suppressed(pg_url, "acme")


async def mo(smsc: SimulatedSmsc, number: str) -> int:
    resp = await smsc.deliver(source_addr=number, destination_addr=SHORT_CODE, text="STOP")
    return int(resp.command_status)


def submit_to(number: str) -> SubmitSm:
    return SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=b"Sale")
