"""``stopgate security lockouts|unlock``: the running proxy's bind lockouts, through its admin API.

Lockouts are held in the memory of the running ``stopgate run`` (they end on their own after
minutes), so these commands are clients of ``/v1/lockouts`` at the configured ``[admin] listen``
address with the configured token (or ``--token`` / the token variable), not writers of the store.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from gateway.config import Config, load_config
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import config_option


def _admin_url(config: Config, query: dict[str, str] | None = None) -> str:
    host = config.admin.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1" if host != "::" else "::1"  # a wildcard listener answers on loopback
    if ":" in host:
        host = f"[{host}]"
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    return f"http://{host}:{config.admin.port}/v1/lockouts{suffix}"


def _call(config: Config, method: str, token: str | None, query: dict[str, str] | None = None) -> Any:
    if not config.admin.enabled:
        fail("the admin API is disabled ([admin] enabled = false): lockouts are only visible through it")
    token = token or (config.admin.tokens[0] if config.admin.tokens else None)
    if not token:
        fail(f"no admin token: set [admin] tokens, {config.admin.token_env} or pass --token")
    url = _admin_url(config, query)
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        fail(f"admin API at {config.admin.listen} answered {exc.code}: {detail or exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        fail(f"cannot reach the admin API at {config.admin.listen} (is stopgate running?): {reason}")


def _show(items: list[dict[str, Any]], empty: str) -> None:
    if not items:
        click.echo(empty)
    for item in items:
        click.echo(
            f"{item['ip']}\t{item['system_id']}\t{item['remaining_seconds']}s left\tlockout #{item['count']}"
        )


token_option = click.option(
    "--token", default=None, help="Admin API token (default: the first of [admin] tokens)."
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
