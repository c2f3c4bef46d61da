"""``stopgate upstreams``: each upstream's health, throughput and binds, from the running proxy.

The binds live in the memory of the running ``stopgate run``, so this is a client of
``GET /v1/upstreams`` (see :mod:`.admin_client`). When the API cannot be asked, the configured
upstreams are printed with an unknown state and the command exits 2 with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gateway.config import Config, load_config
from gateway.config.schema import join_host_port
from gateway.ops.cli.admin_client import Unreachable, ask_admin, token_option
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import config_option
from gateway.ops.cli.output import short_time, table
from gateway.ops.records import parse_iso

UPSTREAM_COLUMNS = [
    "upstream", "address", "health", "since", "pooled", "tps", "max_tps", "breaker",
    "submits", "errors", "throttled", "failovers", "binds",
]  # fmt: skip
BIND_COLUMNS = ["upstream", "bind", "mode", "state", "since", "in_flight"]


def _when(text: str) -> str:
    return short_time(parse_iso(text))


def upstream_rows(config: Config, items: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for item in items:
        configured = config.upstreams.get(item["name"])
        address = join_host_port(configured.host, configured.port) if configured else "-"
        counters = item["counters"]
        bound = sum(b["state"] == "bound" for b in item["binds"])
        rows.append(
            [
                item["name"],
                address,
                item["health"],
                _when(item["since"]),
                "yes" if item["pooled"] else "no",
                f"{item['tps']:.1f}",
                "-" if item["max_tps"] is None else f"{item['max_tps']:g}",
                item["breaker"],
                counters["submits"],
                counters["errors"],
                counters["throttled"],
                counters["failovers"],
                f"{bound}/{len(item['binds'])}",
            ]
        )
    return rows


def bind_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [item["name"], b["index"], b["mode"], b["state"], _when(b["since"]), b["in_flight"]]
        for item in items
        for b in item["binds"]
    ]


@click.command("upstreams")
@config_option
@token_option
@handle_errors
def upstreams(config_path: Path, token: str | None) -> None:
    """Each upstream's health, TPS, breaker, counters and binds (from the running proxy's admin API)."""
    config = load_config(config_path)
    try:
        items = ask_admin(config, "GET", "/v1/upstreams", token)["items"]
    except Unreachable as exc:
        rows = [[u.name, join_host_port(u.host, u.port), "?"] for u in config.upstreams.values()]
        click.echo(table(["upstream", "address", "health"], rows))
        fail(f"{exc}; live state unknown")
    click.echo(table(UPSTREAM_COLUMNS, upstream_rows(config, items)))
    binds = bind_rows(items)
    click.echo("")
    click.echo(table(BIND_COLUMNS, binds) if binds else "no binds (no ESME session bound)")
