"""``stopgate optouts import``: a CSV file of numbers to opt out, streamed into the store.

Rows are checked and normalised while the store reads them (:func:`read_import_rows`), so a file of
millions of numbers is never held in memory; invalid rows are reported by line number. In atomic
mode one invalid row means nothing is imported.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from gateway.config import Config, configured_scopes, load_config, resolve_scope, scope_filter
from gateway.numbers import InvalidNumber
from gateway.numbers.bulk import BulkNormalizer
from gateway.ops.cli.errors import fail, handle_errors, one_line
from gateway.ops.cli.options import CHOOSE_SCOPE, config_option, scope_option
from gateway.ops.cli.store import operator_name, with_store
from gateway.store.base import Store
from gateway.store.model import Channel

#: Invalid import rows listed individually; the rest are counted.
MAX_REPORTED_ROWS = 100


class ImportReport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.valid = 0
        self.invalid = 0
        self.scopes: Counter[str] = Counter()
        self.errors: list[tuple[int, str]] = []

    def bad(self, line: int, message: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ROWS:
            self.errors.append((line, message))

    def print_errors(self) -> None:
        for line, message in self.errors:
            click.echo(f"{self.path}:{line}: {one_line(message)}", err=True)
        hidden = self.invalid - len(self.errors)
        if hidden > 0:
            click.echo(f"{self.path}: ... and {hidden} more invalid rows", err=True)


class _InvalidRows(Exception):
    """Raised at the end of an atomic import's rows so that the store imports nothing."""


class _Progress:
    """Counts characters read for a progress bar (updated in batches, from the reading thread)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.pending = 0

    def lines(self, fh: IO[str]) -> Iterator[str]:
        for line in fh:
            self.pending += len(line)
            if self.pending >= 1 << 18:
                self.bar.update(self.pending)
                self.pending = 0
            yield line

    def finish(self) -> None:
        self.bar.update(self.pending)
        self.pending = 0


def read_import_rows(
    fh: IO[str],
    report: ImportReport,
    *,
    config: Config,
    scope: str | None,
    atomic: bool,
    lines: Iterator[str] | None = None,
) -> Iterator[tuple[str, str]]:
    """(scope, E.164) of every valid row; invalid ones go to ``report``.

    Raises :class:`CliError` for a file that is not CSV with a ``number`` column, and (atomic) an
    :class:`_InvalidRows` after the last row if any row was invalid.
    """
    path = report.path
    reader = csv.reader(lines if lines is not None else fh, strict=True)
    try:
        try:
            header = next(reader)
        except StopIteration:
            fail(f"{path}: empty file (expected a header row with a 'number' column)")
        names = [name.strip().lower() for name in header]
        if "number" not in names:
            found = ", ".join(repr(h) for h in header) or "nothing"
            fail(f"{path}:1: no 'number' column in the header row (found {found})")
        number_at = names.index("number")
        scope_at = names.index("scope") if "scope" in names else None
        scopes = set(configured_scopes(config))
        default_scope: str | None
        if scope is not None:
            default_scope = scope
        elif len(scopes) == 1:
            default_scope = next(iter(scopes))
        elif scope_at is None:
            default_scope = resolve_scope(config, None, choose=CHOOSE_SCOPE)  # raises: --scope is required
        else:
            default_scope = None
        normalize = BulkNormalizer(config.numbers.default_country)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            line = reader.line_num
            report.rows += 1
            raw = row[number_at] if number_at < len(row) else ""
            row_scope = default_scope
            if scope_at is not None and scope_at < len(row) and row[scope_at].strip():
                row_scope = row[scope_at].strip()
                if row_scope not in scopes:
                    report.bad(line, f"unknown scope {row_scope!r} (configured: {', '.join(sorted(scopes))})")
                    continue
            if row_scope is None:
                report.bad(line, "no scope: the scope column is empty (use --scope for a default)")
                continue
            if not raw.strip():
                report.bad(line, "missing number")
                continue
            try:
                e164 = normalize(raw)
            except InvalidNumber as exc:
                report.bad(line, str(exc))
                continue
            report.valid += 1
            report.scopes[row_scope] += 1
            yield row_scope, e164
    except csv.Error as exc:
        fail(f"{path}:{reader.line_num}: unreadable CSV: {exc}")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text near line {reader.line_num + 1} ({exc.reason})")
    if atomic and report.invalid:
        raise _InvalidRows()


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@scope_option("Scope for rows without a scope column value (optional with a single configured scope).")
@click.option(
    "--atomic/--skip-invalid",
    "atomic",
    default=True,
    show_default=True,
    help="--atomic: any invalid row means nothing is imported. "
    "--skip-invalid: import the valid rows and report the invalid ones.",
)
@click.option("--reason", default=None, help="Kept in the audit log (default: 'import of FILE').")
@config_option
@handle_errors
def optouts_import(
    file: Path, scope: str | None, atomic: bool, reason: str | None, config_path: Path
) -> None:
    """Import a CSV file of numbers to opt out.

    The file needs a header row with a 'number' column and may have a 'scope' column. Numbers are
    normalised like addresses on the wire. Numbers already opted out are left as they are, so
    importing the same file again changes nothing.
    """
    config = load_config(config_path)
    scope = scope_filter(config, scope)
    report = ImportReport(file)
    try:
        fh = open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except IsADirectoryError:
        fail(f"{file}: is a directory, not a CSV file")
    except OSError as exc:
        fail(f"{file}: cannot open: {exc.strerror or exc}")
    show_bar = sys.stderr.isatty()
    try:
        size = os.fstat(fh.fileno()).st_size
        with click.progressbar(
            length=max(size, 1), label=f"importing {file.name}", file=sys.stderr, hidden=not show_bar
        ) as bar:
            progress = _Progress(bar)
            rows = read_import_rows(
                fh,
                report,
                config=config,
                scope=scope,
                atomic=atomic,
                lines=progress.lines(fh) if show_bar else None,
            )

            async def work(store: Store) -> int:
                return await store.import_suppressions(
                    rows,
                    channel=Channel.IMPORT,
                    reason=reason or f"import of {file.name}",
                    operator=operator_name(),
                )

            try:
                added = with_store(config, work)
            except _InvalidRows:
                added = -1
            if show_bar:
                progress.finish()
    finally:
        fh.close()
    report.print_errors()
    if added < 0:
        fail(
            f"{report.invalid} invalid row(s) in {file}; nothing imported "
            "(fix them, or use --skip-invalid to import the valid rows)",
            1,
        )
    scopes = ", ".join(sorted(report.scopes)) or "-"
    unchanged = report.valid - added
    summary = (
        f"imported {added} new opt-out(s) into scope {scopes} from {file}: {report.rows} rows, "
        f"{report.valid} valid, {unchanged} already opted out or repeated"
    )
    if report.invalid:
        summary += f", {report.invalid} invalid row(s) skipped"
    click.echo(summary)
