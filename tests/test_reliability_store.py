"""Opt-outs under crashes, races and a failing disk (issue #6).

* kill -9 during a burst of STOPs: every STOP the SMSC saw acknowledged is in the store after the crash
  and blocks after the restart (zero lost);
* a submit racing a STOP for the same number never reaches the SMSC after the STOP's deliver_sm_resp;
* a full disk (RLIMIT_FSIZE on the live process) or a read-only store: opt-outs that cannot be recorded
  are refused with ESME_RX_T_APPN, blocking continues from memory, /readyz says 503, and the proxy keeps
  relaying; once the disk has room again the SMSC's redelivery is recorded.
"""

from __future__ import annotations

import os
import random
import resource
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.app import App
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import DeliverSm, Pdu, SubmitSm
from gateway.store.sqlite import SQLiteStore
from tests.live import ADMIN_TOKEN, live_stack
from tests.stack import make_config, running_stack
from tools.reliability import (
    SHORT_CODE,
    burst_numbers,
    lost_optouts,
    stop_burst,
    suppressed_in_file,
    wait_for,
)
from tools.smpp_peer import connect_peer
from tools.smsc_sim import SimulatedSmsc

pytestmark = pytest.mark.anyio

S = CommandStatus
BLOCKED = S.ESME_RSUBMITFAIL
#: ``STOPGATE_CRASH_SEED=<n>`` replays a run; the default keeps the suite deterministic.
CRASH_SEED = int(os.environ.get("STOPGATE_CRASH_SEED", "20250411"))


def submit_to(number: str, text: bytes = b"Big sale today") -> SubmitSm:
    return SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=text)


async def mo(smsc: SimulatedSmsc, number: str, text: str = "STOP") -> int:
    resp = await smsc.deliver(source_addr=number, destination_addr=SHORT_CODE, text=text)
    return resp.command_status


def reached_smsc(smsc: SimulatedSmsc, number: str) -> list[Any]:
    """Submits to ``number`` that reached the SMSC, except Stopgate's own confirmations."""
    return [r for r in smsc.submits_to(number) if r.source_addr != SHORT_CODE]


# --- kill -9 ------------------------------------------------------------------------------------


async def test_kill_9_during_a_burst_of_2000_stops_loses_no_acknowledged_optout(tmp_path: Path) -> None:
    rng = random.Random(CRASH_SEED)
    kill_after = rng.randint(200, 1800)
    numbers = burst_numbers(2000)
    async with live_stack(tmp_path) as live:
        smsc = live.smsc
        async with connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            await smsc.wait_for_binds(1)
            result = await stop_burst(smsc, numbers, kill_after=kill_after, kill=live.process.kill)
        assert await live.process.wait() == -9
        assert result.killed_after_acks is not None and len(result.acked) >= kill_after
        assert result.refused == {}

        # Straight from the file the dead process left: every acknowledged STOP is there.
        suppressed = suppressed_in_file(live.db_path, "acme")
        lost = lost_optouts(result.acked, suppressed)
        print(
            f"\nseed {CRASH_SEED}: killed after {result.killed_after_acks} acks; "
            f"acked {len(result.acked)}, sent {result.sent}, unanswered {result.unanswered}, "
            f"in store {len(suppressed)}, lost {len(lost)}"
        )
        assert lost == set()

        async with live.restart(), connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            await smsc.wait_for_binds(1)
            # Every acknowledged number is refused and nothing reaches the SMSC (a sample of 100).
            before = smsc.submit_count
            for number in rng.sample(sorted(result.acked), 100):
                resp = await esme.request(submit_to(number))
                assert resp.command_status == BLOCKED, number
            assert smsc.submit_count == before
            # The SMSC redelivers what was never acknowledged: then all 2,000 are recorded.
            missing = [n for n in numbers if n not in result.acked]
            again = await stop_burst(smsc, missing, kill_after=None, kill=lambda: None)
            assert len(again.acked) == len(missing)
        assert lost_optouts(set(numbers), suppressed_in_file(live.db_path, "acme")) == set()


# --- the race -------------------------------------------------------------------------------------


async def test_a_submit_racing_a_stop_never_reaches_the_smsc_after_the_stop_was_acknowledged(
    tmp_path: Path,
) -> None:
    """For each number, STOP and a stream of submits to it start together. The SMSC reads one TCP
    stream from the proxy, so "the submit arrived after the ack" is exact: its position in the SMSC's
    receive order is compared with the number of submits received when the deliver_sm_resp was read."""
    numbers = burst_numbers(150, first=5000)
    acked_at: dict[str, int] = {}
    statuses: dict[str, list[int]] = {n: [] for n in numbers}
    async with live_stack(tmp_path) as live, connect_peer(live.port) as esme:
        smsc = live.smsc
        await esme.bind("acme", "acmepw")
        (session,) = await smsc.wait_for_binds(1)

        async def stop(number: str) -> None:
            def on_response(resp: Pdu) -> None:
                # Runs as the response is read, in stream order with the submits around it.
                if resp.command_status == S.ESME_ROK:
                    acked_at[number] = smsc.submit_count

            pdu = DeliverSm(
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=number,
                destination_addr=SHORT_CODE,
                short_message=b"STOP",
            )
            await session.link.request(pdu, 10, on_response)

        async def spam(number: str) -> None:
            while statuses[number].count(BLOCKED) < 2:
                resp = await esme.request(submit_to(number))
                statuses[number].append(resp.command_status)

        limiter = anyio.CapacityLimiter(10)

        async def race(number: str) -> None:
            async with limiter, anyio.create_task_group() as tg:
                tg.start_soon(stop, number)
                tg.start_soon(spam, number)

        async with anyio.create_task_group() as tg:
            for number in numbers:
                tg.start_soon(race, number)

        assert set(acked_at) == set(numbers)
        late = []
        passed = 0
        for position, record in enumerate(smsc.received, start=1):
            number = record.destination_addr
            if number in acked_at and record.source_addr != SHORT_CODE:
                passed += 1
                if position > acked_at[number]:
                    late.append((number, position, acked_at[number]))
        print(f"\n{passed} submits won the race (before the ack), {len(late)} after it")
        assert late == []
        assert all(s[-2:] == [BLOCKED, BLOCKED] for s in statuses.values())
        assert passed > 0  # the race was real: some submits did get through before the STOP


# --- a failing disk -------------------------------------------------------------------------------


async def readyz(port: int) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"http://127.0.0.1:{port}/readyz")


async def test_full_disk_refuses_unrecordable_optouts_keeps_blocking_and_recovers(tmp_path: Path) -> None:
    """RLIMIT_FSIZE 0 on the live process: every write to a file fails (EFBIG), as on a full disk,
    including its own log file. The proxy must keep running."""
    a, b, c = "447700900601", "447700900602", "447700900603"
    async with live_stack(tmp_path, admin=True) as live, connect_peer(live.port) as esme:
        smsc = live.smsc
        await esme.bind("acme", "acmepw")
        assert await mo(smsc, a) == S.ESME_ROK
        assert (await live.admin("/readyz")).status_code == 200
        soft, hard = resource.prlimit(live.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(live.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            assert await mo(smsc, b) == S.ESME_RX_T_APPN  # not recorded: the SMSC must redeliver
            ready = await live.admin("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["store"] == "failed"
            assert (await live.admin("/healthz")).status_code == 200
            assert (await esme.request(submit_to(a))).command_status == BLOCKED  # from memory
            assert (await esme.request(submit_to(b))).command_status == BLOCKED  # held, unrecorded
            assert (await esme.request(submit_to(c))).command_status == S.ESME_ROK  # still relaying
            assert [r.destination_addr for r in smsc.received if r.source_addr != SHORT_CODE] == [c]
            assert live.alive
        finally:
            resource.prlimit(live.pid, resource.RLIMIT_FSIZE, (soft, hard))

        async def is_ready() -> bool:
            return (await live.admin("/readyz")).status_code == 200

        with anyio.fail_after(10):
            while not await is_ready():
                await anyio.sleep(0.1)
        assert await mo(smsc, b) == S.ESME_ROK  # the redelivery is recorded now
        live.process.kill()
        await live.process.wait()
    assert suppressed_in_file(live.db_path, "acme") >= {"+" + a, "+" + b}
    assert "+" + c not in suppressed_in_file(live.db_path, "acme")


async def test_read_only_store_refuses_optouts_and_reports_not_ready(tmp_path: Path) -> None:
    """The store opened read-only (``query_only``, as a read-only file or volume behaves; root ignores
    file permissions, so they cannot stand in for it here)."""
    a, b = "447700900611", "447700900612"
    async with running_stack(tmp_path) as stack, connect_peer(stack.port) as esme:
        await esme.bind("acme", "acmepw")
        assert await mo(stack.smsc, a) == S.ESME_ROK

    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        config = make_config(
            tmp_path,
            smsc.port,
            {"admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [ADMIN_TOKEN]}},
        )
        app = App(config)
        app.store = SQLiteStore(config.storage.path, pragmas={"query_only": "ON"})
        await tg.start(app.run)
        assert app.proxy is not None and app.admin is not None
        async with connect_peer(app.proxy.port) as esme:
            await esme.bind("acme", "acmepw")
            assert await mo(smsc, b) == S.ESME_RX_T_APPN
            assert [pdu for pdu in esme.requests if pdu.command_id == 0x05] == []  # not forwarded either
            assert (await esme.request(submit_to(a))).command_status == BLOCKED
            assert (await esme.request(submit_to(b))).command_status == BLOCKED
            assert (await esme.request(submit_to("447700900613"))).command_status == S.ESME_ROK
            ready = await readyz(app.admin.port)
            assert ready.status_code == 503
            assert "store" in ready.json()["error"]
        with anyio.CancelScope(shield=True):
            await app.stop()
            await smsc.stop()
        tg.cancel_scope.cancel()


async def test_burst_helpers_count_what_the_smsc_saw(tmp_path: Path) -> None:
    """stop_burst itself: with nothing killed every STOP is acknowledged once."""
    async with running_stack(tmp_path) as stack, connect_peer(stack.port) as esme:
        await esme.bind("acme", "acmepw")
        numbers = burst_numbers(40, first=9000)
        result = await stop_burst(stack.smsc, numbers, kill_after=None, kill=lambda: None, concurrency=8)
        assert result.acked == set(numbers) and result.sent == 40 and result.unanswered == 0
        assert len(esme.requests) >= 40  # forwarded to the ESME, which answered each one
        confirmations = lambda: [r for r in stack.smsc.received if r.source_addr == SHORT_CODE]  # noqa: E731
        await wait_for(lambda: len(confirmations()) == 40, 5, "40 confirmations")
