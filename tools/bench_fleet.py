"""Propagation across a fleet: three real `stopgate run` processes on one PostgreSQL database.

    python -m tools.bench_fleet [--samples 200] [--url postgresql://postgres@127.0.0.1:5432/postgres]

Each process has its own simulated SMSC and one bound ESME. For every sample a STOP goes in through A
(the SMSC's deliver_sm, acknowledged once committed); B's and C's ESMEs then submit marketing to that
number every 2 ms until refused with the opt-out status. Printed: the time from A's acknowledgement
to the first refusal by B and by C (p50, p99, max), and A's acknowledgement time. Three processes, a
simulator each, PostgreSQL and the load generator share this machine's cores.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import psycopg

from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from tools.config_toml import simulator_upstream, to_toml
from tools.ports import free_port
from tools.smpp_peer import SmppPeer, connect_peer
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

SHORT_CODE = "88088"
POLL = 0.002


@dataclass
class Member:
    smsc: SimulatedSmsc
    esme: SmppPeer


def _config(smsc_port: int, port: int, url: str) -> str:
    return to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": port},
            "storage": {"url": url},
            "logging": {"format": "json", "level": "warning"},
            "admin": {"enabled": False},
            "upstream": [simulator_upstream(smsc_port)],
            "account": [
                {
                    "system_id": "acme",
                    "password": "acmepw",
                    "upstream": "sim",
                    "scope": "acme",
                    "footer": "Reply STOP to opt out",
                }
            ],
        }
    )


@asynccontextmanager
async def fleet(directory: Path, url: str, size: int = 3) -> AsyncIterator[list[Member]]:
    """``size`` `stopgate run` processes on ``url``, each with its simulated SMSC and a bound ESME."""
    async with AsyncExitStack() as stack:
        tg = await stack.enter_async_context(anyio.create_task_group())
        members = []
        for i in range(size):
            smsc = SimulatedSmsc(users={"proxy": "proxypw"}, keep=100)
            await tg.start(smsc.serve)
            stack.push_async_callback(smsc.stop)
            port = free_port()
            home = directory / f"p{i}"
            home.mkdir()
            config = home / "stopgate.toml"
            config.write_text(_config(smsc.port, port, url))
            await stack.enter_async_context(stopgate_process(config, port, term_grace=5.0))
            esme = await stack.enter_async_context(connect_peer(port))
            await esme.bind("acme", "acmepw")
            await smsc.wait_for_binds(1)
            members.append(Member(smsc, esme))
        yield members
        tg.cancel_scope.cancel()


async def _refused_after(esme: SmppPeer, number: str, started: float, limit: float) -> float:
    pdu = SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=b"Sale")
    with anyio.fail_after(limit):
        while True:
            resp = await esme.request(pdu)
            if resp.command_status == CommandStatus.ESME_RSUBMITFAIL:
                return time.perf_counter() - started
            await anyio.sleep(POLL)


async def _record(into: list[float], esme: SmppPeer, number: str, started: float, limit: float) -> None:
    into.append(await _refused_after(esme, number, started, limit))


async def measure(members: list[Member], samples: int, *, limit: float = 5.0) -> dict[str, list[float]]:
    """STOP through ``members[0]``; seconds until each other member refuses marketing to the number."""
    first, others = members[0], members[1:]
    acks: list[float] = []
    delays: list[float] = []
    base = secrets.randbelow(10**5)
    for i in range(samples):
        number = f"4477{base:05d}{i:03d}"
        sent = time.perf_counter()
        resp = await first.smsc.deliver(source_addr=number, destination_addr=SHORT_CODE, text="STOP")
        if resp.command_status != CommandStatus.ESME_ROK:
            raise RuntimeError(f"STOP from {number} answered {resp.command_status:#x}")
        acked = time.perf_counter()
        acks.append(acked - sent)
        async with anyio.create_task_group() as tg:
            for member in others:
                tg.start_soon(_record, delays, member.esme, number, acked, limit)
    return {"ack": acks, "propagation": delays}


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms,"
        f" max {ordered[-1] * 1e3:.1f} ms (n={len(ordered)})"
    )


async def _main(admin_url: str, samples: int) -> None:
    name = f"stopgate_fleet_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        with tempfile.TemporaryDirectory(prefix="bench_fleet_") as directory:
            async with fleet(Path(directory), url) as members:
                result = await measure(members, samples)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
    print(f"STOP acknowledged by A:            {summary(result['ack'])}")
    print(f"then refused by B and C after:     {summary(result['propagation'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=200, help="STOPs through A")
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server whose user may CREATE DATABASE",
    )
    args = parser.parse_args(argv)
    anyio.run(_main, args.url, args.samples)


if __name__ == "__main__":
    main()
