"""Operator commands: ``stopgate optouts ...``, ``stopgate audit export`` and ``stopgate report``.

Every command reads ``--config`` and works on the store named there, directly: a running proxy picks
changes up from the store's change feed within ``optout.feed_interval`` (0.25 s by default), and a
proxy started later loads them at start-up. Changes are recorded in the event log with channel ``cli``
(``import`` for bulk imports) and the operator's login name as ``account``.

Scopes: ``--scope`` may be omitted when the config has a single scope. ``export``, ``audit export``
and ``report`` treat ``--scope`` as a filter (all scopes when omitted).

Exit status: 0 success (for ``status``: opted out), 1 ``status``: not opted out / ``import``: invalid
rows in atomic mode, nothing imported; 2 any error (bad number, unreadable file, invalid config, store
failure). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import csv
import functools
import getpass
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import anyio
import click

from gateway.config import Config, ConfigError, load_config
from gateway.numbers import InvalidNumber, parse_user_number
from gateway.numbers.bulk import BulkNormalizer
from gateway.records import event_record, parse_iso, suppression_record
from gateway.store.model import Channel, Event, EventType, StoreError, Suppression
from gateway.store.sqlite import SQLiteStore

_T = TypeVar("_T")

#: Invalid import rows listed individually; the rest are counted.
MAX_REPORTED_ROWS = 100
#: Exit status of any error (matches ``stopgate check-config`` on an invalid config).
EXIT_ERROR = 2


class CliError(Exception):
    """A problem to report on one line of stderr, with an exit status."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def _fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
    raise CliError(message, status)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def handle_errors(func: Callable[..., _T]) -> Callable[..., _T]:
    """Turn every expected failure into ``stopgate: <message>`` on stderr and an exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            message, status = str(exc), exc.status
        except ConfigError as exc:
            message, status = f"invalid config: {exc}", EXIT_ERROR
        except StoreError as exc:
            message, status = f"store error: {exc}", EXIT_ERROR
        except InvalidNumber as exc:
            message, status = str(exc), EXIT_ERROR
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            message, status = f"{where}{exc.strerror or exc}", EXIT_ERROR
        except KeyboardInterrupt:
            message, status = "interrupted", 130
        except Exception as exc:  # a bug: still one line, with a hint to get the details
            if os.environ.get("STOPGATE_DEBUG"):
                raise
            message = f"unexpected error: {type(exc).__name__}: {exc} (set STOPGATE_DEBUG=1 for details)"
            status = EXIT_ERROR
        click.echo(f"stopgate: {_one_line(message)}", err=True)
        sys.exit(status)

    return wrapper


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default="config/example.toml",
        show_default=True,
        envvar="STOPGATE_CONFIG",
        help="Configuration file (TOML).",
    )(func)


def scope_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--scope", default=None, metavar="SCOPE", help=help_text)


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="Output format.",
)


# -- helpers -------------------------------------------------------------------------------------


def scopes_of(config: Config) -> list[str]:
    return sorted({account.scope for account in config.accounts.values()})


def resolve_scope(config: Config, scope: str | None) -> str:
    """The scope to act on: ``scope`` if configured, or the only one when it is omitted."""
    scopes = scopes_of(config)
    if scope is None:
        if len(scopes) == 1:
            return scopes[0]
        _fail(f"several scopes are configured ({', '.join(scopes)}): choose one with --scope")
    check_scope(config, scope)
    return scope


def check_scope(config: Config, scope: str) -> None:
    scopes = scopes_of(config)
    if scope not in scopes:
        _fail(f"unknown scope {scope!r} (configured scopes: {', '.join(scopes)})")


def filter_scope(config: Config, scope: str | None) -> str | None:
    if scope is not None:
        check_scope(config, scope)
    return scope


def operator_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def parse_time(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time for ``option``; naive values are UTC."""
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as exc:
        _fail(f"{option}: {exc}")


def short_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def with_store(config: Config, work: Callable[[SQLiteStore], Awaitable[_T]]) -> _T:
    async def main() -> _T:
        async with SQLiteStore(config.storage.path) as store:
            return await work(store)

    return anyio.run(main)


class RecordWriter:
    """Rows as CSV (with a header) or JSON lines."""

    def __init__(self, out: IO[str], fmt: str, fields: list[str]) -> None:
        self.out = out
        self.fmt = fmt
        self.fields = fields
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.writer(out, lineterminator="\n")
            self._csv.writerow(fields)

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is None:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        row = []
        for name in self.fields:
            value = record.get(name)
            if isinstance(value, list):
                value = " ".join(value)
            row.append("" if value is None else value)
        self._csv.writerow(row)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if numeric[i] and n > 0 else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).rstrip("%").isdigit() or text == "-"


# -- optouts -------------------------------------------------------------------------------------


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
    scope = resolve_scope(config, scope)
    e164 = parse_user_number(number, config.numbers.default_country)
    event = Event(
        type=EventType.ADMIN_ADD,
        number=e164,
        scope=scope,
        channel=Channel.CLI,
        account=operator_name(),
        reason=reason,
    )

    async def work(store: SQLiteStore) -> tuple[bool, Suppression | None]:
        new = await store.opt_out(event)
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
    scope = resolve_scope(config, scope)
    if not reason.strip():
        _fail("--reason must not be empty")
    e164 = parse_user_number(number, config.numbers.default_country)
    event = Event(
        type=EventType.ADMIN_REMOVE,
        number=e164,
        scope=scope,
        channel=Channel.CLI,
        account=operator_name(),
        reason=reason,
    )

    async def work(store: SQLiteStore) -> bool:
        return await store.opt_in(event)

    if with_store(config, work):
        click.echo(f"{e164} removed from the opt-out list of scope {scope}")
    else:
        click.echo(f"{e164} was not opted out in scope {scope}; nothing to remove (recorded)")


@optouts.command("status")
@click.argument("number")
@scope_option("Scope to look in (optional with a single configured scope).")
@config_option
@handle_errors
def optouts_status(number: str, scope: str | None, config_path: Path) -> None:
    """Is NUMBER opted out, since when, how, and its history. Exit 0 if opted out, 1 if not."""
    config = load_config(config_path)
    scope = resolve_scope(config, scope)
    e164 = parse_user_number(number, config.numbers.default_country)

    async def work(store: SQLiteStore) -> tuple[Suppression | None, list[Event]]:
        return await store.get_suppression(scope, e164), await store.history(scope, e164)

    current, history = with_store(config, work)
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
            details = [f"channel={e.channel.value}"]
            for name in ("account", "keyword", "reason", "campaign"):
                value = getattr(e, name)
                if value:
                    details.append(f"{name}={value}")
            if e.text:
                details.append(f"text={e.text!r}")
            click.echo(f"  {short_time(e.ts)}  {e.type.value:<17} {' '.join(details)}")
    else:
        click.echo("history: no events")
    sys.exit(0 if current is not None else 1)


# -- import --------------------------------------------------------------------------------------


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
            click.echo(f"{self.path}:{line}: {_one_line(message)}", err=True)
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
            _fail(f"{path}: empty file (expected a header row with a 'number' column)")
        names = [name.strip().lower() for name in header]
        if "number" not in names:
            found = ", ".join(repr(h) for h in header) or "nothing"
            _fail(f"{path}:1: no 'number' column in the header row (found {found})")
        number_at = names.index("number")
        scope_at = names.index("scope") if "scope" in names else None
        scopes = set(scopes_of(config))
        default_scope: str | None
        if scope is not None:
            default_scope = scope
        elif len(scopes) == 1:
            default_scope = next(iter(scopes))
        elif scope_at is None:
            default_scope = resolve_scope(config, None)  # raises: --scope is required
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
        _fail(f"{path}:{reader.line_num}: unreadable CSV: {exc}")
    except UnicodeDecodeError as exc:
        _fail(f"{path}: not UTF-8 text near line {reader.line_num + 1} ({exc.reason})")
    if atomic and report.invalid:
        raise _InvalidRows()


@optouts.command("import")
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
    if scope is not None:
        check_scope(config, scope)
    report = ImportReport(file)
    try:
        fh = open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except IsADirectoryError:
        _fail(f"{file}: is a directory, not a CSV file")
    except OSError as exc:
        _fail(f"{file}: cannot open: {exc.strerror or exc}")
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

            async def work(store: SQLiteStore) -> int:
                return await store.import_suppressions(
                    rows,
                    channel=Channel.IMPORT,
                    reason=reason or f"import of {file.name}",
                    account=operator_name(),
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
        _fail(
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


# -- export --------------------------------------------------------------------------------------

SUPPRESSION_FIELDS = ["number", "scope", "since", "channel", "keyword", "reason"]
EVENT_FIELDS = [
    "id",
    "ts",
    "type",
    "scope",
    "number",
    "channel",
    "account",
    "keyword",
    "text",
    "message_ids",
    "reason",
    "campaign",
]


@optouts.command("export")
@scope_option("Only this scope (default: every scope).")
@FORMAT_OPTION
@config_option
@handle_errors
def optouts_export(scope: str | None, fmt: str, config_path: Path) -> None:
    """Write the current opt-out list to stdout (number, scope, since, channel, keyword, reason)."""
    config = load_config(config_path)
    scope = filter_scope(config, scope)
    writer = RecordWriter(sys.stdout, fmt, SUPPRESSION_FIELDS)

    async def work(store: SQLiteStore) -> None:
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
@FORMAT_OPTION
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
    scope = filter_scope(config, scope)
    start = parse_time(since, "--since")
    end = parse_time(until, "--until")
    e164 = parse_user_number(number, config.numbers.default_country) if number is not None else None
    wanted = [EventType(t) for t in types] or None
    writer = RecordWriter(sys.stdout, fmt, EVENT_FIELDS)

    async def work(store: SQLiteStore) -> None:
        async for e in store.iter_events(since=start, until=end, number=e164, types=wanted, scope=scope):
            writer.write(event_record(e))

    with_store(config, work)
    sys.stdout.flush()


# -- report --------------------------------------------------------------------------------------

_REPORT_TYPES = (EventType.OPT_OUT, EventType.OPT_IN, EventType.HELP, EventType.BLOCKED)
_COLUMNS = {
    EventType.OPT_OUT: "opt-outs",
    EventType.OPT_IN: "opt-ins",
    EventType.HELP: "help",
    EventType.BLOCKED: "blocked",
}


def campaign_name(campaign: str | None) -> str:
    if campaign is None:
        return "(unknown)"
    return campaign or "(none)"


@click.command("report", short_help="Opt-out report: per day and scope, keywords, campaigns.")
@click.option("--since", default=None, metavar="ISO", help="Start of the period (default: everything).")
@scope_option("Only this scope (default: every scope).")
@config_option
@handle_errors
def report(since: str | None, scope: str | None, config_path: Path) -> None:
    """Opt-outs, opt-ins, help requests and blocked messages; keywords; opt-out rate per campaign.

    A campaign is the service_type (or the account's campaign_tlv) of the last marketing message
    sent to the number before it opted out; sent counts come from the proxy's counters.
    """
    config = load_config(config_path)
    scope = filter_scope(config, scope)
    start = parse_time(since, "--since")

    async def work(store: SQLiteStore) -> str:
        per_day: dict[tuple[str, str], Counter[EventType]] = defaultdict(Counter)
        keywords: Counter[tuple[str, str]] = Counter()
        optouts_by_campaign: Counter[tuple[str, str | None]] = Counter()
        async for e in store.iter_events(since=start, types=_REPORT_TYPES, scope=scope):
            per_day[(e.ts.strftime("%Y-%m-%d"), e.scope)][e.type] += 1
            if e.type is EventType.OPT_OUT:
                keywords[(e.scope, (e.keyword or "-").upper())] += 1
                campaign = e.campaign
                if campaign is None:
                    campaign = await store.last_campaign(e.scope, e.number)
                optouts_by_campaign[(e.scope, campaign)] += 1
        since_day = start.strftime("%Y-%m-%d") if start is not None else None
        sent: Counter[tuple[str, str | None]] = Counter()
        for _day, sc, campaign, count in await store.sent_counts(since_day, scope):
            sent[(sc, campaign)] += count

        period = f"since {short_time(start)}" if start is not None else "all time"
        out = [f"Stopgate report ({period}; scope: {scope or 'all'})", ""]
        out.append("Per day and scope")
        rows: list[list[Any]] = [
            [day, sc, *(counts[t] for t in _REPORT_TYPES)] for (day, sc), counts in sorted(per_day.items())
        ]
        if rows:
            totals = [sum(r[i] for r in rows) for i in range(2, 2 + len(_REPORT_TYPES))]
            rows.append(["total", "", *totals])
            out.append(table(["day", "scope", *(_COLUMNS[t] for t in _REPORT_TYPES)], rows))
        else:
            out.append("  (no events)")
        out += ["", "Opt-outs by keyword"]
        if keywords:
            out.append(
                table(
                    ["scope", "keyword", "opt-outs"],
                    [[sc, kw, n] for (sc, kw), n in sorted(keywords.items(), key=lambda i: (i[0][0], -i[1]))],
                )
            )
        else:
            out.append("  (no opt-outs)")
        out += ["", "Opt-out rate per campaign"]
        keys = sorted(set(sent) | set(optouts_by_campaign), key=lambda k: (k[0], k[1] is None, k[1] or ""))
        if keys:
            rate_rows = []
            for sc, campaign in keys:
                n_sent = sent.get((sc, campaign), 0)
                n_out = optouts_by_campaign.get((sc, campaign), 0)
                rate = f"{100.0 * n_out / n_sent:.2f}%" if n_sent else "-"
                rate_rows.append(
                    [sc, campaign_name(campaign), n_sent if campaign is not None else "-", n_out, rate]
                )
            out.append(table(["scope", "campaign", "sent", "opt-outs", "rate"], rate_rows))
        else:
            out.append("  (no marketing traffic recorded)")
        return "\n".join(out)

    click.echo(with_store(config, work))


# -- registration --------------------------------------------------------------------------------


def register(main: click.Group) -> None:
    """Add the operator commands to the ``stopgate`` group (called by gateway.cli)."""
    main.add_command(optouts)
    main.add_command(audit)
    main.add_command(report)
