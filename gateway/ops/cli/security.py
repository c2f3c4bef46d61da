"""``stopgate security lockouts|unlock``: the running proxy's bind lockouts, through its admin API.

Lockouts are held in the memory of the running ``stopgate run`` (they end on their own after
minutes), so these commands are clients of ``/v1/lockouts`` at the configured ``[admin] listen``
address with the configured token (or ``--token`` / the token variable), not writers of the store.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import click

from gateway.config import Config, load_config
from gateway.ops.cli.admin_client import call_admin, token_option
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import config_option


def _call(config: Config, method: str, token: str | None, query: dict[str, str] | None = None) -> Any:
    if not config.admin.enabled:
        fail("the admin API is disabled ([admin] enabled = false): lockouts are only visible through it")
    return call_admin(config, method, "/v1/lockouts", token, query)


def _show(items: list[dict[str, Any]], empty: str) -> None:
    if not items:
        click.echo(empty)
    for item in items:
        click.echo(
            f"{item['ip']}\t{item['system_id']}\t{item['remaining_seconds']}s left\tlockout #{item['count']}"
        )


@click.group()
def security() -> None:
    """Bind lockouts of the running proxy (through its admin API)."""


@security.command("lockouts")
@config_option
@token_option
@handle_errors
def lockouts(config_path: Path, token: str | None) -> None:
    """List the bind lockouts in force: address, system_id, time left."""
    config = load_config(config_path)
    _show(_call(config, "GET", token)["items"], "no lockouts in force")


@security.command("unlock")
@config_option
@token_option
@click.option("--ip", required=True, help="The client's address.")
@click.option("--system-id", default=None, help="Only this account's lockout (default: all of --ip).")
@handle_errors
def unlock(config_path: Path, token: str | None, ip: str, system_id: str | None) -> None:
    """Lift the bind lockouts of --ip (of one --system-id, or all of them)."""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        fail(f"--ip: {ip!r} is not an IPv4 or IPv6 address")
    config = load_config(config_path)
    query = {"ip": ip} | ({"system_id": system_id} if system_id else {})
    lifted = _call(config, "DELETE", token, query)["items"]
    _show(lifted, f"no lockout in force for {ip}" + (f" / {system_id}" if system_id else ""))
    if lifted:
        click.echo(f"lifted {len(lifted)} lockout(s)")
