"""``stopgate routes check``: which ``[[route]]`` takes a submit, and its upstreams in order."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.config import load_config
from gateway.ops.cli.errors import exit_with, handle_errors
from gateway.ops.cli.options import config_option
from gateway.ops.route_view import check_route


@click.group()
def routes() -> None:
    """The MT route table."""


@routes.command("check")
@config_option
@click.option("--account", required=True, help="The account (system_id) that submits.")
@click.option("--to", "to", required=True, help="The destination number, e.g. +447700900123.")
@click.option("--from", "source", default="", help="The source address, when routes match on it.")
@click.option("--service-type", default="", help="The service_type, when routes match on it.")
@handle_errors
def check(config_path: Path, account: str, to: str, source: str, service_type: str) -> None:
    """Print the rule a submit matches and its upstreams in the order they are tried."""
    config = load_config(config_path)
    if account not in config.accounts:
        exit_with(f"unknown account {account!r} (known: {', '.join(config.accounts)})")
    result = check_route(config, account, to, source, service_type)
    if result["route"] is None:
        click.echo(f"{result['to']}: no [[route]] configured; account {account!r} uses its upstream")
    else:
        click.echo(f"{result['to']}: route {result['rule']}")
    for i, upstream in enumerate(result["upstreams"], 1):
        click.echo(f"  {i}. {upstream}")
