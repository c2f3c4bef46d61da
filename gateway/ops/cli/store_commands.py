"""``stopgate store``: ``migrate`` (bring the configured store's schema up to date) and ``copy``
(move an SQLite store into PostgreSQL, verified by counts and checksums)."""

from __future__ import annotations

from pathlib import Path

import anyio
import click

from gateway.config import load_config
from gateway.ops.cli.errors import EXIT_ERROR, fail, handle_errors
from gateway.ops.cli.options import config_option
from gateway.store.backends import make_store
from gateway.store.postgres import PostgresStore
from gateway.store.postgres.copy import CopyReport, copy_sqlite_to_postgres


@click.group("store")
def store() -> None:
    """Manage the store itself: schema migrations, moving to PostgreSQL."""


@store.command("migrate")
@config_option
@handle_errors
def store_migrate(config_path: Path) -> None:
    """Apply the schema migrations the configured store lacks (safe while others start too)."""
    config = load_config(config_path)

    async def main() -> None:
        async with make_store(config.storage.path, config.storage.url):
            pass  # opening migrates, under the database's lock

    anyio.run(main)
    where = PostgresStore(config.storage.url).db.name if config.storage.url else config.storage.path
    click.echo(f"store {where}: schema up to date")


@store.command("copy")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The SQLite store file to copy (it may stay in use: one consistent snapshot is read).",
)
@click.option("--to", "url", required=True, help="postgresql://user@host/database (empty).")
@handle_errors
def store_copy(source: Path, url: str) -> None:
    """Copy suppressions, the whole event log and the counters into an empty PostgreSQL database.

    Prints each table's row count and SHA-256 on both sides; exits non-zero unless they all match.
    """
    if not url.startswith(("postgresql://", "postgres://")):
        fail(f"--to: expected a postgresql:// URL, got {url!r}")

    async def main() -> CopyReport:
        async with PostgresStore(url) as destination:
            return await copy_sqlite_to_postgres(source, destination.db)

    report = anyio.run(main)
    for table, (rows, checksum) in report.source.items():
        dest_rows, dest_checksum = report.destination[table]
        verdict = "ok" if (rows, checksum) == (dest_rows, dest_checksum) else "MISMATCH"
        click.echo(f"{table:15} source {rows:>10} rows sha256 {checksum}")
        click.echo(f"{'':15} dest   {dest_rows:>10} rows sha256 {dest_checksum}  {verdict}")
    if not report.matches:
        fail("the copy does not match its source", EXIT_ERROR)
    click.echo("copy verified: counts and checksums match")
