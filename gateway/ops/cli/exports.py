"""Writing records to stdout: ``stopgate optouts export`` (the current opt-outs) and ``stopgate
audit export`` (the event log), as CSV or JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import load_config, scope_filter
from gateway.numbers import parse_user_number
from gateway.ops.cli.errors import handle_errors
from gateway.ops.cli.options import config_option, format_option, parse_time, scope_option
from gateway.ops.cli.output import RecordWriter
from gateway.ops.cli.store import with_store
from gateway.ops.records import EVENT_FIELDS, SUPPRESSION_FIELDS, event_record, suppression_record
from gateway.store.base import Store
from gateway.store.model import EventType


@click.command("export")
@scope_option("Only this scope (default: every scope).")
@format_option
@config_option
@handle_errors
def optouts_export(scope: str | None, fmt: str, config_path: Path) -> None:
    """Write the current opt-out list to stdout (number, scope, since, channel, keyword, reason)."""
    config = load_config(config_path)
    scope = scope_filter(config, scope)
    writer = RecordWriter(sys.stdout, fmt, SUPPRESSION_FIELDS)

    async def work(store: Store) -> None:
        async for s in store.iter_suppressions(scope):
            writer.write(suppression_record(s))

    with_store(config, work)
    sys.stdout.flush()


# -- audit ---------------------------------------------------------------------------------------


@click.group("audit")
def audit() -> None:
    """The audit trail (event log)."""


@audit.command("export")
@click.option("--since", default=None, metavar="ISO", help="Events at or after this time (UTC if no zone).")
@click.option("--until", default=None, metavar="ISO", help="Events before this time.")
@click.option("--number", default=None, help="Only events about this number.")
@scope_option("Only this scope (default: every scope).")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in EventType]),
    help="Only events of this type (repeatable).",
)
@format_option
@config_option
@handle_errors
def audit_export(
    since: str | None,
    until: str | None,
    number: str | None,
    scope: str | None,
    types: tuple[str, ...],
    fmt: str,
    config_path: Path,
) -> None:
    """Write the event log to stdout, oldest first."""
    config = load_config(config_path)
    scope = scope_filter(config, scope)
    start = parse_time(since, "--since")
    end = parse_time(until, "--until")
    e164 = parse_user_number(number, config.numbers.default_country) if number is not None else None
    wanted = [EventType(t) for t in types] or None
    writer = RecordWriter(sys.stdout, fmt, EVENT_FIELDS)

    async def work(store: Store) -> None:
        async for e in store.iter_events(since=start, until=end, number=e164, types=wanted, scope=scope):
            writer.write(event_record(e))

    with_store(config, work)
    sys.stdout.flush()
