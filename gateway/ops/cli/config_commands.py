"""Commands for writing a config: ``stopgate check-config`` and ``stopgate hash-password``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import MAX_PASSWORD, ConfigError, load_config
from gateway.config.advice import config_warnings
from gateway.config.describe import describe
from gateway.config.passwords import hash_password as make_hash
from gateway.ops.cli.checks import config_problems
from gateway.ops.cli.errors import EXIT_ERROR, exit_with, handle_errors, one_line
from gateway.ops.cli.options import config_option


@click.command("check-config")
@config_option
@handle_errors
def check_config(config_path: Path) -> None:
    """Validate the config, print what it understood, and warn about what looks wrong.

    Every error is listed (one line each, with its line in the file), then the checks ``run`` makes
    before starting (the storage directory exists and is writable, the TLS files load). Exit 0 when
    the config can run (warnings included), 2 otherwise.
    """
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for error in exc.errors:
            click.echo(f"stopgate: invalid config: {one_line(str(error))}", err=True)
        if len(exc.errors) > 1:
            exit_with(f"{len(exc.errors)} errors in {config_path}")
        sys.exit(EXIT_ERROR)
    click.echo(f"config: {Path(config_path).resolve()}")
    click.echo(describe(config))
    for warning in config_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    problems = config_problems(config)
    for problem in problems:
        click.echo(f"stopgate: cannot run with this config: {problem}", err=True)
    if problems:
        sys.exit(EXIT_ERROR)
    click.echo("config OK")


@click.command("hash-password")
@click.password_option(prompt="Password (at most 8 characters)")
def hash_password(password: str) -> None:
    """Print a password_hash value for an [[account]]."""
    # SMPP 3.4 carries at most 8 octets of printable ASCII (§5.2.3): a longer password never binds.
    if not 0 < len(password) <= MAX_PASSWORD or not all(" " <= ch <= "~" for ch in password):
        exit_with(f"an SMPP password is 1-{MAX_PASSWORD} printable ASCII characters")
    click.echo(make_hash(password))
