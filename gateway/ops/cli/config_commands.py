"""Commands for writing a config: ``stopgate check-config`` and ``stopgate hash-password``."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.config import MAX_PASSWORD, load_config
from gateway.config.describe import describe
from gateway.config.passwords import hash_password as make_hash
from gateway.ops.cli.errors import exit_with, handle_errors
from gateway.ops.cli.options import config_option


@click.command("check-config")
@config_option
@handle_errors
def check_config(config_path: Path) -> None:
    """Validate the config and print what it understood."""
    config = load_config(config_path)
    click.echo(describe(config))
    click.echo("config OK")


@click.command("hash-password")
@click.password_option(prompt="Password (at most 8 characters)")
def hash_password(password: str) -> None:
    """Print a password_hash value for an [[account]]."""
    # SMPP 3.4 carries at most 8 octets of printable ASCII (§5.2.3): a longer password never binds.
    if not 0 < len(password) <= MAX_PASSWORD or not all(" " <= ch <= "~" for ch in password):
        exit_with(f"an SMPP password is 1-{MAX_PASSWORD} printable ASCII characters")
    click.echo(make_hash(password))
