"""``stopgate consent import`` (a CSV of consent records) and ``stopgate consent show``.

The CSV has a header; ``number`` and ``source`` are required, ``scope`` (else ``--scope``),
``wording``, ``time`` (ISO 8601, default now) and evidence columns (``ip``, ``form_id``,
``user_agent``, ``reference``) optional. The whole file is checked before anything is stored.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

import click

from gateway.config import ScopeError, check_scope, load_config, resolve_scope
from gateway.numbers import InvalidNumber, parse_user_number
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import CHOOSE_SCOPE, config_option, scope_option
from gateway.ops.cli.output import short_time
from gateway.ops.cli.store import operator_name, with_store
from gateway.ops.subscriber_records import consent_from_fields
from gateway.store.base import Store
from gateway.store.model import Channel, Consent


@click.group("consent")
def consent() -> None:
    """Consent records: proof that a number agreed to marketing."""


@consent.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@scope_option("Scope for rows without a scope column (optional with a single configured scope).")
@config_option
@handle_errors
def consent_import(file: TextIO, scope: str | None, config_path: Path) -> None:
    """Import consent records from FILE (CSV with a header; '-' for stdin)."""
    config = load_config(config_path)
    reader = csv.DictReader(file)
    if not reader.fieldnames or "number" not in reader.fieldnames or "source" not in reader.fieldnames:
        fail("the CSV needs a header with at least 'number' and 'source' columns")
    account = operator_name()
    records: list[Consent] = []
    for line, row in enumerate(reader, start=2):
        try:
            row_scope = row.get("scope") or None
            if row_scope:
                check_scope(config, row_scope)
            else:
                row_scope = resolve_scope(config, scope, choose=CHOOSE_SCOPE)
            number = parse_user_number(row["number"] or "", config.numbers.default_country)
            records.append(consent_from_fields(row, number=number, scope=row_scope, account=account))
        except (ValueError, InvalidNumber, ScopeError) as exc:
            fail(f"line {line}: {exc}")

    async def work(store: Store) -> None:
        for record in records:
            await store.add_consent(record, channel=Channel.IMPORT)

    with_store(config, work)
    click.echo(f"imported {len(records)} consent records")


def consent_lines(consents: list[Consent]) -> list[str]:
    """The consent history as ``optouts status`` prints it beside the opt-out history (nothing
    when there is none: most numbers of a list without ``require_consent`` have no record)."""
    if not consents:
        return []
    lines = [f"consent ({len(consents)} records):"]
    for c in consents:
        state = "LIVE" if c.ended is None else f"ended {short_time(c.ended)}"
        evidence = " ".join(f"{k}={v}" for k, v in sorted(c.evidence.items()))
        wording = f" wording={c.wording!r}" if c.wording else ""
        lines.append(f"  {short_time(c.ts)}  {c.source:<10} {state}{wording} {evidence}".rstrip())
    return lines


@consent.command("show")
@click.argument("number")
@scope_option("Scope to look in (optional with a single configured scope).")
@config_option
@handle_errors
def consent_show(number: str, scope: str | None, config_path: Path) -> None:
    """The consent records of NUMBER. Exit 0 if a consent is live, 1 if not."""
    config = load_config(config_path)
    scope = resolve_scope(config, scope, choose=CHOOSE_SCOPE)
    e164 = parse_user_number(number, config.numbers.default_country)

    async def work(store: Store) -> list[Consent]:
        return await store.consents(scope, e164)

    consents = with_store(config, work)
    for line in consent_lines(consents) or [f"{e164} in scope {scope}: no consent records"]:
        click.echo(line)
    sys.exit(0 if any(c.ended is None for c in consents) else 1)
