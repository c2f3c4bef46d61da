"""Faults against a real `stopgate run` process and the simulated SMSC's fault injection (issue #6).

The ESME side is tools/smpp_peer.py (raw SMPP on our codec) so every answer is checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gateway.proxy.upstream import ReconnectBackoff
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import Pdu, SubmitSm
from tests.live import account, live_stack, upstream
from tests.stack import merge
from tools.reliability import connect_cycles, proc_stats, snapshot, wait_for
from tools.smpp_peer import SmppPeer, connect_peer

pytestmark = pytest.mark.anyio

S = CommandStatus
C = CommandId
NUMBER = "447700900401"
#: acme as a pure relay (no footer, no blocking), quick reconnect backoff.
RELAY = merge(
    account(traffic="transactional"),
    upstream(reconnect_backoff_initial=0.1, reconnect_backoff_max=0.4, bind_timeout=5.0),
)


def submit_pdu(text: bytes = b"hello", number: str = NUMBER) -> SubmitSm:
    return SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=text)


async def bound_peer_submit(esme: SmppPeer, text: bytes = b"hello") -> Pdu:
    return await esme.request(submit_pdu(text))


# --- reconnect backoff (pure) ---------------------------------------------------------------------


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = ReconnectBackoff(0.5, 3.0)
    assert backoff.wait(100.0) == 0.0
    delays = [backoff.failed(started=t, now=t) for t in (100.0, 101.0, 102.0, 103.0, 104.0)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.wait(104.0) == 3.0 and backoff.wait(107.5) == 0.0
    backoff.succeeded()
    assert backoff.wait(104.0) == 0.0
    assert backoff.failed(started=105.0, now=105.0) == 0.5


def test_concurrent_failures_count_once() -> None:
    """Ten ESMEs binding during an outage: attempts that began before a failure was recorded do not
    double the delay again."""
    backoff = ReconnectBackoff(1.0, 60.0)
    for _ in range(10):
        backoff.failed(started=10.0, now=10.2)
    assert backoff.failures == 1
    assert backoff.wait(10.2) == pytest.approx(1.0)


# --- the SMSC dies --------------------------------------------------------------------------------


async def test_smsc_death_fails_every_in_flight_request_and_a_bind_succeeds_once_it_is_back(
    tmp_path: Path,
) -> None:
    async with live_stack(tmp_path, RELAY) as live, anyio.create_task_group() as tg:
        smsc = live.smsc
        async with connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            smsc.stall(True)
            waiters = [(await esme.send_request(submit_pdu(f"in flight {i}".encode())))[1] for i in range(10)]
            await smsc.wait_for_submits(10)
            await smsc.disconnect_all()  # TCP reset on every connection, then gone
            await smsc.stop()
            answers = [await esme.response(w, timeout=5) for w in waiters]
            expected = [(C.SUBMIT_SM_RESP, S.ESME_RSYSERR)] * 10
            assert [(a.command_id, a.command_status) for a in answers] == expected
            await esme.wait_closed(5)  # the ESME session is unbound and closed
            assert esme.unbound
            assert esme.errors == []

        # A bind while the SMSC is still down is held (connects retried with backoff)...
        smsc.reset_faults()
        result: dict[str, Pdu] = {}

        async def bind_again() -> None:
            async with connect_peer(live.port) as again:
                result["bind"] = await again.bind("acme", "acmepw", timeout=10, check=False)
                result["submit"] = await bound_peer_submit(again, b"back")

        tg.start_soon(bind_again)
        await wait_for(lambda: live.log().count("upstream connect failed") >= 2, 5, "two failed connects")
        # ...and succeeds once the SMSC is back (same port).
        await tg.start(smsc.serve)
        await wait_for(lambda: "submit" in result, 10, "the bind and submit after the restart")
        assert result["bind"].command_status == S.ESME_ROK
        assert result["submit"].command_status == S.ESME_ROK
        log = live.log()
        assert '"retry_in": 0.1' in log and '"retry_in": 0.2' in log  # backing off, not hammering
        await smsc.stop()


async def test_a_bind_is_refused_after_bind_timeout_when_the_smsc_stays_down(tmp_path: Path) -> None:
    quick = upstream(reconnect_backoff_initial=0.1, reconnect_backoff_max=0.3, bind_timeout=1.0)
    override = merge(RELAY, quick)
    async with live_stack(tmp_path, override) as live:
        await live.smsc.stop()
        async with connect_peer(live.port) as esme:
            started = anyio.current_time()
            resp = await esme.bind("acme", "acmepw", check=False, timeout=10)
            elapsed = anyio.current_time() - started
        assert resp.command_status == S.ESME_RBINDFAIL
        assert 0.8 < elapsed < 3.0
        # Attempts at about 0, 0.1, 0.3, 0.6, 0.9 s: bounded by the backoff, not a busy loop.
        assert 3 <= live.log().count("upstream connect failed") <= 8


# --- the SMSC stalls, throttles, nacks, unbinds ---------------------------------------------------


async def test_smsc_stall_times_out_answers_errors_and_frees_the_window(tmp_path: Path) -> None:
    override = merge(RELAY, {"session": {"window": 3, "response_timeout": 0.5}})
    async with live_stack(tmp_path, override) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        live.smsc.stall(True)
        waiters = [(await esme.send_request(submit_pdu()))[1] for _ in range(3)]
        await live.smsc.wait_for_submits(3)
        assert (await bound_peer_submit(esme)).command_status == S.ESME_RTHROTTLED  # window full
        started = anyio.current_time()
        answers = [await esme.response(w, timeout=3) for w in waiters]
        assert [a.command_status for a in answers] == [S.ESME_RSYSERR] * 3
        assert anyio.current_time() - started < 2.0
        live.smsc.stall(False)
        # The window is free again: the next submits go through on the same session.
        for _ in range(3):
            assert (await bound_peer_submit(esme)).command_status == S.ESME_ROK
        assert not esme.closed and esme.errors == []
        assert live.alive


async def test_throttled_is_relayed_not_retried(tmp_path: Path) -> None:
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        live.smsc.throttle_next(2)
        statuses = [(await bound_peer_submit(esme)).command_status for _ in range(3)]
        assert statuses == [S.ESME_RTHROTTLED, S.ESME_RTHROTTLED, S.ESME_ROK]
        assert live.smsc.submit_count == 3  # one submit per ESME request: nothing retried behind its back
        assert [r.status for r in live.smsc.received] == statuses


async def test_generic_nack_from_the_smsc_reaches_the_esme_and_the_session_continues(tmp_path: Path) -> None:
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        live.smsc.generic_nack_next(1, S.ESME_RSYSERR)
        resp = await bound_peer_submit(esme)
        # §4.3: the answer to that request is a generic_nack, under the ESME's own sequence number.
        assert resp.command_id == C.GENERIC_NACK and resp.command_status == S.ESME_RSYSERR
        assert live.smsc.submit_count == 1
        assert (await bound_peer_submit(esme)).command_status == S.ESME_ROK
        assert not esme.closed and esme.errors == []


async def test_smsc_unbind_answers_in_flight_requests_then_unbinds_the_esme(tmp_path: Path) -> None:
    override = merge(RELAY, {"session": {"response_timeout": 5.0, "shutdown_grace": 0.5}})
    async with live_stack(tmp_path, override) as live:
        seen_at_unbind: list[bool] = []
        waiters: list[object] = []

        def on_request(peer: SmppPeer, pdu: Pdu) -> bool:
            if pdu.command_id == C.UNBIND:
                seen_at_unbind.extend(w.pdu is not None for w in waiters)  # type: ignore[attr-defined]
            return False

        async with connect_peer(live.port, on_request=on_request) as esme:
            await esme.bind("acme", "acmepw")
            live.smsc.stall(True)
            for i in range(4):
                waiters.append((await esme.send_request(submit_pdu(f"m{i}".encode())))[1])
            await live.smsc.wait_for_submits(4)
            assert await live.smsc.unbind_all() == 1
            await esme.wait_closed(5)
            assert esme.unbound
            # Every in-flight request was answered (with an error) before the ESME was asked to unbind.
            assert seen_at_unbind == [True] * 4
            assert {w.pdu.command_status for w in waiters} == {S.ESME_RSYSERR}  # type: ignore[attr-defined]
        await live.smsc.wait_until(lambda: not live.smsc.sessions, 5)
        live.smsc.stall(False)
        async with connect_peer(live.port) as esme:  # and binding again works
            await esme.bind("acme", "acmepw")
            assert (await bound_peer_submit(esme)).command_status == S.ESME_ROK


# --- the ESME goes away --------------------------------------------------------------------------


async def test_esme_reset_mid_window_unbinds_and_closes_the_upstream_session(tmp_path: Path) -> None:
    async with live_stack(tmp_path, RELAY, admin=True) as live:
        smsc = live.smsc
        smsc.respond_delay(1.0)
        async with connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            await smsc.wait_for_binds(1)
            for i in range(5):
                await esme.send_request(submit_pdu(f"m{i}".encode()))
            await smsc.wait_for_submits(5)
            await esme.abort()  # TCP reset with five requests in flight
        await smsc.wait_until(lambda: smsc.counters["unbinds"] == 1 and not smsc.sessions, 5)
        metrics = await snapshot(live.pid, live.admin_port)  # type: ignore[arg-type]
        assert metrics.tasks > 0
        resp = await live.admin("/metrics")
        assert 'stopgate_bound_sessions{account="acme"} 0.0' in resp.text
        assert live.alive


async def test_1000_connect_bind_disconnect_cycles_leave_fds_tasks_and_memory_flat(tmp_path: Path) -> None:
    override = merge(RELAY, account(traffic="transactional", max_sessions=100))
    async with live_stack(tmp_path, override, admin=True) as live:
        admin_port = live.admin_port
        assert admin_port is not None
        await connect_cycles(live.port, 100)  # warm-up: caches, allocator pools, lazy imports
        await live.smsc.wait_until(lambda: not live.smsc.sessions, 10)
        before = await snapshot(live.pid, admin_port)
        outcomes = await connect_cycles(live.port, 1000)
        assert sum(outcomes.values()) == 1000
        await live.smsc.wait_until(lambda: not live.smsc.sessions, 10)
        await wait_for(lambda: proc_stats(live.pid).fds <= before.stats.fds, 10, "fds back to the baseline")
        after = await snapshot(live.pid, admin_port)
        print(f"\n1000 cycles {dict(outcomes)}\n  before: {before}\n  after:  {after}")
        assert after.stats.fds <= before.stats.fds
        assert after.tasks <= before.tasks + 2  # the scrape itself may be in flight
        assert after.stats.rss_kib - before.stats.rss_kib < 8 * 1024
        assert live.smsc.counters["binds"] == live.smsc.counters["unbinds"] == 825  # every upstream unbound
        assert live.alive


# --- signals --------------------------------------------------------------------------------------


async def test_signals_are_handled_as_soon_as_the_port_answers(tmp_path: Path) -> None:
    """Regression: the handlers were installed after the listeners opened, so a SIGHUP (reload) or
    SIGTERM (drain) in that moment got its default action and killed the process."""
    import signal

    for _ in range(3):
        async with live_stack(tmp_path, RELAY) as live:  # returns once the SMPP port answers
            live.process.send_signal(signal.SIGHUP)
            await wait_for(lambda: "config reloaded" in live.log(), 5, "the reload")
            assert live.alive
            live.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                assert await live.process.wait() == 0  # drained and stopped, not killed
        live.log_path.unlink()
