"""``stopgate webhooks status`` (cursor, backlog, dead letters per webhook) and ``replay --since``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway.config import load_config
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import config_option, parse_time
from gateway.ops.cli.store import with_store
from gateway.ops.subscriber_records import webhook_statuses
from gateway.store.base import Store


@click.group("webhooks")
def webhooks() -> None:
    """Signed event delivery to your CRM ([[webhook]] in the config)."""


@webhooks.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@config_option
@handle_errors
def webhooks_status(as_json: bool, config_path: Path) -> None:
    """Each webhook's cursor, backlog, last error and dead letters. Exit 1 if any has dead letters."""
    config = load_config(config_path)

    async def work(store: Store) -> list[dict[str, Any]]:
        return await webhook_statuses(store, store, config.webhooks)

    rows = with_store(config, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("no webhooks configured")
    for row in rows if not as_json else []:
        where = row["url"] or "(no longer configured)"
        click.echo(
            f"{row['name']}: {where} cursor={row['cursor']} pending={row['pending']}"
            f" dead_letters={row['dead_letters']}"
        )
        if row["last_error"]:
            click.echo(f"  last error: {row['last_error']}")
        for dead in row["recent_dead_letters"]:
            click.echo(f"  dead letter: event {dead['event_id']} at {dead['time']}: {dead['error']}")
    raise SystemExit(1 if any(r["dead_letters"] for r in rows) else 0)


@webhooks.command("replay")
@click.option(
    "--since", required=True, metavar="ISO", help="Redeliver events at or after this time."
)
@click.option("--name", default=None, help="Only this webhook (default: every configured webhook).")
@config_option
@handle_errors
def webhooks_replay(since: str, name: str | None, config_path: Path) -> None:
    """Move the cursor back so events since --since are delivered again (with their same ids).

    Works while `stopgate run` is running: the delivery task picks up the moved cursor.
    """
    config = load_config(config_path)
    start = parse_time(since, "--since")
    names = [hook.name for hook in config.webhooks]
    if name is not None:
        if name not in names:
            fail(f"--name: no webhook named {name!r} (configured: {', '.join(names) or 'none'})")
        names = [name]
    if not names:
        fail("no webhooks configured")

    async def work(store: Store) -> int | None:
        first = await store.events(since=start, limit=1)
        if not first or first[0].id is None:
            return None
        cursor = first[0].id - 1
        for hook in names:
            # Only ever backwards: a webhook behind the replay point gets those events anyway.
            if (await store.webhook_state(hook)).cursor > cursor:
                await store.set_webhook_cursor(hook, cursor)
        return cursor

    cursor = with_store(config, work)
    if cursor is None:
        click.echo(f"no events since {since}; nothing to replay")
    else:
        click.echo(f"replaying events after id {cursor} to: {', '.join(names)}")
