"""Options several commands take, defined once: ``--config``, ``--scope``, ``--format``, and the
parsing of ``--since``/``--until`` values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway.ops.cli.errors import exit_with, fail
from gateway.ops.records import parse_iso


def _given_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    # No default file: falling back to config/example.toml inside a checkout would run the example,
    # with its published token and passwords, without anyone having asked for it.
    if value is None:
        exit_with(
            "no config file given: pass --config FILE or set STOPGATE_CONFIG "
            "(config/example.toml is an example to copy, with published credentials)"
        )
    return value


#: The TOML file every command reads (``STOPGATE_CONFIG`` in the environment works too); required.
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="STOPGATE_CONFIG",
    callback=_given_config,
    help="Configuration file (TOML). Required: --config FILE or STOPGATE_CONFIG.",
)

#: How to pick a scope, ending the error when several are configured and none was given.
CHOOSE_SCOPE = "choose one with --scope"

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="Output format.",
)


def scope_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--scope", default=None, metavar="SCOPE", help=help_text)


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time for ``option``; naive values are UTC."""
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as exc:
        fail(f"{option}: {exc}")
