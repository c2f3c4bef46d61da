"""Fail closed when blind (issue 15): a `stopgate run` cut off from PostgreSQL for longer than
``optout.max_feed_lag`` refuses marketing with ESME_RX_T_APPN, so it never sends to a number that
opted out meanwhile through another process; transactional traffic goes on; ``/readyz`` is 503 and
``stopgate_feed_blind`` is 1; it recovers by itself once the database is reachable again."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import pytest

from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from tests.live import live_stack
from tests.pgdb import pg_url
from tools.smpp_peer import connect_peer
from tools.tcp_cutoff import TcpCutoff

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest

SHORT_CODE = "88088"
MAX_LAG = 3.0  # long enough that a loaded machine (a slow poll) does not flap it


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the relay's."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def submit_to(number: str) -> SubmitSm:
    return SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=b"Sale")


async def test_a_process_cut_off_past_max_feed_lag_refuses_marketing_and_recovers(
    tmp_path: Path, pg_url: str
) -> None:
    opted, other = "447700900711", "447700900712"
    target = urlsplit(pg_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        TcpCutoff(target.hostname or "127.0.0.1", target.port or 5432) as relay,
        live_stack(
            tmp_path / "a",
            {"storage": {"url": through(pg_url, relay.port)}, "optout": {"max_feed_lag": MAX_LAG}},
            admin=True,
        ) as a,
        live_stack(tmp_path / "b", {"storage": {"url": pg_url}}) as b,
        connect_peer(a.port) as marketing,
        connect_peer(a.port) as transactional,
        connect_peer(b.port) as on_b,
    ):
        await on_b.bind("acme", "acmepw")
        await b.smsc.wait_for_binds(1)
        await marketing.bind("acme", "acmepw")
        await transactional.bind("acmeotp", "otppw")
        assert (await marketing.request(submit_to(other))).command_status == CommandStatus.ESME_ROK
        assert (await a.admin("/readyz")).status_code == 200

        relay.cut()
        # Another process records an opt-out that A cannot see.
        stop = await b.smsc.deliver(source_addr=opted, destination_addr=SHORT_CODE, text="STOP")
        assert stop.command_status == CommandStatus.ESME_ROK
        with anyio.fail_after(MAX_LAG + 5):
            while (await a.admin("/readyz")).status_code != 503:
                await anyio.sleep(0.1)
        ready = await a.admin("/readyz")
        assert ready.json()["checks"]["change feed"] == "behind", ready.json()
        assert "stopgate_feed_blind 1.0" in (await a.admin("/metrics")).text
        sent_before = a.smsc.submit_count
        for number in (opted, other):
            resp = await marketing.request(submit_to(number))
            assert resp.command_status == CommandStatus.ESME_RX_T_APPN, number
        assert a.smsc.submit_count == sent_before
        resp = await transactional.request(submit_to(other))
        assert resp.command_status == CommandStatus.ESME_ROK  # transactional traffic goes on
        assert a.smsc.submit_count == sent_before + 1

        relay.mend()
        with anyio.fail_after(30):
            while (await a.admin("/readyz")).status_code != 200:
                await anyio.sleep(0.1)
        assert "stopgate_feed_blind 0.0" in (await a.admin("/metrics")).text
        resp = await marketing.request(submit_to(opted))
        assert resp.command_status == CommandStatus.ESME_RSUBMITFAIL  # caught up: the opt-out is seen
        assert (await marketing.request(submit_to(other))).command_status == CommandStatus.ESME_ROK
        assert not a.smsc.submits_to(opted)
