"""The `stopgate` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import Config, ConfigError, load_config

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config/example.toml",
    show_default=True,
    envvar="STOPGATE_CONFIG",
    help="Configuration file (TOML).",
)


def load_or_exit(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"stopgate: invalid config: {exc}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Stopgate: SMPP 3.4 proxy with SMS opt-out compliance."""


@main.command()
@CONFIG_OPTION
def run(config_path: Path) -> None:
    """Run the proxy (and the admin API) until SIGTERM."""
    from gateway.app import run as run_app

    load_or_exit(config_path)
    try:
        run_app(config_path)
    except* OSError as group:  # e.g. a listen or admin port already in use: one line, no traceback
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        click.echo(f"stopgate: cannot start: {error}", err=True)
        sys.exit(2)


@main.command("check-config")
@CONFIG_OPTION
def check_config(config_path: Path) -> None:
    """Validate the config and print what it understood."""
    config = load_or_exit(config_path)
    click.echo(config.describe())
    click.echo("config OK")


@main.command("hash-password")
@click.password_option(prompt="Password (at most 8 characters)")
def hash_password(password: str) -> None:
    """Print a password_hash value for an [[account]]."""
    from gateway.config import MAX_PASSWORD
    from gateway.passwords import hash_password as make_hash

    # SMPP 3.4 carries at most 8 octets of printable ASCII (§5.2.3): a longer password never binds.
    if not 0 < len(password) <= MAX_PASSWORD or not all(" " <= ch <= "~" for ch in password):
        click.echo(
            f"stopgate: an SMPP password is 1-{MAX_PASSWORD} printable ASCII characters", err=True
        )
        sys.exit(2)
    click.echo(make_hash(password))


def _register_extensions() -> None:
    """Operator commands live in their own modules."""
    import importlib

    for name in ("gateway.cli_optouts",):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(main)


_register_extensions()
