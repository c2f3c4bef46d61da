"""``stopgate audit redact --number N``: erase a subscriber's personal fields from the log (GDPR).

The suppression stays (erasing it would let marketing resume), and so does the fact of every event;
the MO text, reasons and consent evidence become ``[redacted]``, and a ``redacted`` event records
that the erasure happened.
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.config import load_config
from gateway.numbers import parse_user_number
from gateway.ops.cli.errors import handle_errors
from gateway.ops.cli.options import config_option
from gateway.ops.cli.store import operator_name, with_store
from gateway.store.base import Store
from gateway.store.model import Channel


@click.command("redact")
@click.option("--number", required=True, help="The subscriber whose personal fields are erased.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@config_option
@handle_errors
def audit_redact(number: str, yes: bool, config_path: Path) -> None:
    """Replace NUMBER's MO text and personal fields in the event log with a marker (every scope)."""
    config = load_config(config_path)
    e164 = parse_user_number(number, config.numbers.default_country)
    if not yes:
        click.confirm(f"Erase the MO text and personal fields of {e164} in every scope?", abort=True)
    operator = operator_name()

    async def work(store: Store) -> int:
        return await store.redact_number(e164, operator=operator, channel=Channel.CLI)

    changed = with_store(config, work)
    click.echo(f"{e164}: {changed} events redacted; suppression and event facts kept")
