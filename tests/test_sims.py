"""tests/sims.py: several simulated SMSCs, each killed, restarted on its port and faulted on its own,
behind one Stopgate (per-session mode: each account to its own upstream)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway.smpp.constants import CommandStatus as S
from tests.esme import Esme
from tests.sims import running_sims, stack_with_sims

pytestmark = pytest.mark.anyio


def _accounts() -> list[dict[str, Any]]:
    return [
        {"system_id": "acme", "password": "acmepw", "upstream": "uk-smsc", "footer": ""},
        {"system_id": "other", "password": "otherpw", "upstream": "agg", "footer": ""},
    ]


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0



async def test_two_sims_each_killed_restarted_and_faulted(tmp_path: Path) -> None:
    async with running_sims("uk-smsc", "agg", control=True) as sims:
        uk, agg = sims["uk-smsc"], sims["agg"]
        assert list(sims) == ["uk-smsc", "agg"] and uk.port != agg.port
        assert uk.control_port and agg.control_port and uk.control_port != agg.control_port
        assert [u["name"] for u in sims.upstreams(agg={"window": 8})] == ["uk-smsc", "agg"]
        assert sims.upstreams(agg={"window": 8})[1]["window"] == 8
        with pytest.raises(KeyError):
            sims.upstreams(nope={})
        override = {"upstream": sims.upstreams(), "account": _accounts()}
        async with stack_with_sims(tmp_path, override, sims) as stack:
            acme, other = Esme(stack.port, "acme", "acmepw"), Esme(stack.port, "other", "otherpw")
            await anyio.to_thread.run_sync(acme.bind)
            await anyio.to_thread.run_sync(other.bind)
            try:
                assert (await anyio.to_thread.run_sync(acme.submit, "447700900001")).status == S.ESME_ROK
                assert (await anyio.to_thread.run_sync(other.submit, "33612345678")).status == S.ESME_ROK
                assert [r.destinations for r in uk.smsc.received] == [("447700900001",)]
                assert [r.destinations for r in agg.smsc.received] == [("33612345678",)]

                uk.smsc.fail_next(1, S.ESME_RMSGQFUL)
                assert (await anyio.to_thread.run_sync(acme.submit, "447700900002")).status == S.ESME_RMSGQFUL

                port = agg.port
                await agg.kill()
                assert not agg.up and await anyio.to_thread.run_sync(_refused, port)
                # Its session's upstream bind is gone, so the proxy ends that ESME session.
                await anyio.to_thread.run_sync(other.wait_closed, 10.0)
                other.close()
                await agg.restart()
                assert agg.up and agg.port == port
                other = Esme(stack.port, "other", "otherpw")
                await anyio.to_thread.run_sync(other.bind)
                assert (await anyio.to_thread.run_sync(other.submit, "33612345679")).status == S.ESME_ROK
                assert agg.smsc.submits_to("33612345679")
                # The other simulator never noticed.
                assert uk.up and [s.system_id for s in uk.smsc.bound_sessions] == ["proxy"]
            finally:
                await anyio.to_thread.run_sync(acme.leave)
                await anyio.to_thread.run_sync(other.leave)
