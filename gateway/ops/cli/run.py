"""``stopgate run``: the proxy and the admin API, until SIGTERM."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.config import ConfigError, load_config
from gateway.ops.cli.errors import exit_with
from gateway.ops.cli.options import config_option


@click.command()
@config_option
def run(config_path: Path) -> None:
    """Run the proxy (and the admin API) until SIGTERM."""
    from gateway.app import run as run_app  # the whole proxy: not imported by the other commands

    try:
        load_config(config_path)
    except ConfigError as exc:
        exit_with(f"invalid config: {exc}")
    try:
        run_app(config_path)
    except* OSError as group:  # e.g. a listen or admin port already in use: one line, no traceback
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        exit_with(f"cannot start: {error}")
