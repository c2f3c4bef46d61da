"""``stopgate optouts``: add, remove and look up one number; ``import`` and ``export`` come from
:mod:`.imports` and :mod:`.exports`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.config import load_config, resolve_scope
from gateway.numbers import parse_user_number
from gateway.ops.cli.consent import consent_lines
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.exports import optouts_export
from gateway.ops.cli.imports import optouts_import
from gateway.ops.cli.options import CHOOSE_SCOPE, config_option, scope_option
from gateway.ops.cli.output import short_time
from gateway.ops.cli.store import operator_name, with_store
from gateway.optout.changes import OptoutChanges
from gateway.store.base import Store
from gateway.store.model import Channel, Consent, Event, EventType, Suppression


@click.group("optouts")
def optouts() -> None:
    """Manage the suppression (opt-out) list."""


@optouts.command("add")
@click.argument("number")
@scope_option("Scope to add the number to (optional with a single configured scope).")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
@config_option
@handle_errors
def optouts_add(number: str, scope: str | None, reason: str | None, config_path: Path) -> None:
    """Opt NUMBER out: the proxy blocks marketing to it within a second."""
    config = load_config(config_path)
    scope = resolve_scope(config, scope, choose=CHOOSE_SCOPE)
    e164 = parse_user_number(number, config.numbers.default_country)
    event = Event(
        type=EventType.ADMIN_ADD,
        number=e164,
        scope=scope,
        channel=Channel.CLI,
        operator=operator_name(),
        reason=reason,
    )

    async def work(store: Store) -> tuple[bool, Suppression | None]:
        new = await OptoutChanges(store).opt_out(event)
        return new, await store.get_suppression(scope, e164)

    new, current = with_store(config, work)
    if new:
        click.echo(f"{e164} opted out in scope {scope}")
    else:
        since = f" since {short_time(current.since)} via {current.channel}" if current else ""
        click.echo(f"{e164} was already opted out in scope {scope}{since}; recorded again")


@optouts.command("remove")
@click.argument("number")
@scope_option("Scope to remove the number from (optional with a single configured scope).")
@click.option("--reason", required=True, help="Why (required; kept in the audit log).")
@config_option
@handle_errors
def optouts_remove(number: str, scope: str | None, reason: str, config_path: Path) -> None:
    """Lift the opt-out of NUMBER (for example, written consent was given)."""
    config = load_config(config_path)
    scope = resolve_scope(config, scope, choose=CHOOSE_SCOPE)
    if not reason.strip():
        fail("--reason must not be empty")
    e164 = parse_user_number(number, config.numbers.default_country)
    event = Event(
        type=EventType.ADMIN_REMOVE,
        number=e164,
        scope=scope,
        channel=Channel.CLI,
        operator=operator_name(),
        reason=reason,
    )

    async def work(store: Store) -> bool:
        return await OptoutChanges(store).opt_in(event)

    if with_store(config, work):
        click.echo(f"{e164} removed from the opt-out list of scope {scope}")
    else:
        click.echo(f"{e164} was not opted out in scope {scope}; nothing to remove (recorded)")


#: Every event type but BLOCKED: what changed the number's state or answered it (few per number).
HISTORY_TYPES = [t for t in EventType if t is not EventType.BLOCKED]


@optouts.command("status")
@click.argument("number")
@scope_option("Scope to look in (optional with a single configured scope).")
@click.option(
    "--blocked",
    "blocked_limit",
    default=10,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="How many blocked messages to list after the history (oldest first).",
)
@config_option
@handle_errors
def optouts_status(number: str, scope: str | None, blocked_limit: int, config_path: Path) -> None:
    """Is NUMBER opted out, since when, how, its history and its blocked messages.

    Exit 0 if opted out, 1 if not.
    """
    config = load_config(config_path)
    scope = resolve_scope(config, scope, choose=CHOOSE_SCOPE)
    e164 = parse_user_number(number, config.numbers.default_country)

    async def work(
        store: Store,
    ) -> tuple[Suppression | None, list[Event], list[Event], list[Consent]]:
        current = await store.get_suppression(scope, e164)
        history = await store.events(scope=scope, number=e164, types=HISTORY_TYPES)
        # A number can collect any number of blocked messages: one page, after the history.
        blocked = await store.events(
            scope=scope, number=e164, types=[EventType.BLOCKED], limit=blocked_limit + 1
        )
        return current, history, blocked, await store.consents(scope, e164)

    current, history, blocked, consents = with_store(config, work)
    if current is not None:
        how = f"via {current.channel}"
        if current.keyword:
            how += f" (keyword {current.keyword})"
        if current.reason:
            how += f", reason: {current.reason}"
        click.echo(f"{e164} in scope {scope}: OPTED OUT since {short_time(current.since)} {how}")
    else:
        click.echo(f"{e164} in scope {scope}: not opted out")
    if history:
        click.echo(f"history ({len(history)} events):")
        for e in history:
            click.echo(_event_line(e))
    else:
        click.echo("history: no events")
    if blocked:
        more = len(blocked) > blocked_limit
        shown = blocked[:blocked_limit]
        click.echo(f"blocked messages ({'first ' if more else ''}{len(shown)}):")
        for e in shown:
            click.echo(_event_line(e))
        if more:
            click.echo(f"  ... more: --blocked N, or stopgate audit export --number {e164} --type blocked")
    for line in consent_lines(consents):
        click.echo(line)
    sys.exit(0 if current is not None else 1)


def _event_line(e: Event) -> str:
    details = [f"channel={e.channel.value}"]
    for name in ("account", "operator", "keyword", "reason", "campaign"):
        value = getattr(e, name)
        if value:
            details.append(f"{name}={value}")
    if e.text:
        details.append(f"text={e.text!r}")
    return f"  {short_time(e.ts)}  {e.type.value:<17} {' '.join(details)}"


optouts.add_command(optouts_import)
optouts.add_command(optouts_export)
