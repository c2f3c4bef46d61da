"""What a ``{optout_url}`` footer adds per message: ``python -m tools.bench_optout_url``.

Runs the engine's submit decision (:meth:`OptoutPolicy.on_submit`, the code every relayed message
goes through) on decoded submit_sm PDUs to distinct numbers, once with ``footer = "Reply STOP to opt
out"`` and once with ``footer = "Opt out: {optout_url}"`` and a link issuer (a token drawn and queued
per message; the batched store write is not on this path). Prints microseconds per message for each
and the difference; the target is at most 10 us added.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gateway.config import parse_config
from gateway.metrics import Metrics
from gateway.ops.web import TokenIssuer
from gateway.optout.engine import OptoutPolicy
from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.pdu import SubmitSm
from gateway.store import MemoryStore, SuppressionIndex

BASE: dict[str, Any] = {
    "storage": {"path": "bench.db"},
    "upstream": [{"name": "sim", "host": "127.0.0.1", "port": 1, "system_id": "proxy", "password": "pw"}],
    "web": {"public_url": "https://stop.example.com", "listen": "127.0.0.1:0"},
}


def policy_for(footer: str) -> tuple[OptoutPolicy, Any, TokenIssuer]:
    account = {"system_id": "acme", "password": "acmepw", "upstream": "sim", "footer": footer}
    config = parse_config({**BASE, "account": [account]}, Path("."))
    store = MemoryStore()
    policy = OptoutPolicy(config, store, SuppressionIndex(), Metrics())
    issuer = TokenIssuer(store, config.web.public_url, config.web.token_days)
    session = SimpleNamespace(account=config.accounts["acme"], session_id="bench")
    return policy, session, issuer


def frames(count: int) -> list[SubmitSm]:
    out = []
    for i in range(count):
        pdu = SubmitSm(
            source_addr="Shop",
            destination_addr=f"4477009{i % 100000:05d}",
            dest_addr_ton=1,
            short_message=b"Big sale today: 20% off everything in store",
        )
        decoded = decode(encode_fields(pdu, i + 1))
        assert isinstance(decoded, SubmitSm)
        out.append(decoded)
    return out


def run(footer: str, pdus: list[SubmitSm], with_links: bool) -> float:
    policy, session, issuer = policy_for(footer)
    if with_links:
        policy.mt.links = issuer.issue
    on_submit = policy.on_submit
    for pdu in pdus[:1000]:  # warm-up
        on_submit(session, pdu)
    issuer._pending.clear()
    gc.disable()
    started = time.perf_counter()
    for pdu in pdus:
        on_submit(session, pdu)
    elapsed = time.perf_counter() - started
    gc.enable()
    return elapsed / len(pdus) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs each; the best is reported")
    args = parser.parse_args(argv)
    pdus = frames(args.count)
    plain = min(run("Reply STOP to opt out", pdus, False) for _ in range(args.repeat))
    linked = min(run("Opt out: {optout_url}", pdus, True) for _ in range(args.repeat))
    print(f"footer 'Reply STOP to opt out':  {plain:6.2f} us/msg")
    print(f"footer 'Opt out: {{optout_url}}': {linked:6.2f} us/msg")
    print(f"added by the link:              {linked - plain:6.2f} us/msg (target <= 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
