"""`stopgate optouts|audit|report|check-config` as real subprocesses against a temporary store."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway.store.model import Channel, Event, EventType
from gateway.store.sqlite import SQLiteStore
from tests.config_file import write_config

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "STOPGATE_ADMIN_TOKEN": ""}
ENV.pop("STOPGATE_CONFIG", None)
ENV.pop("STOPGATE_DEBUG", None)

SINGLE_SCOPE = {
    "account": [{"system_id": "acme", "password": "acmepw", "upstream": "sim", "scope": "acme"}],
}


def stopgate(*args: str | Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", *map(str, args)]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60, check=False)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The process failed with exactly one line on stderr and no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("stopgate: ")
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Three accounts, two scopes ("acme", "other"); the store is tmp_path/stopgate.db."""
    return write_config(tmp_path / "stopgate.toml", 2776)


@pytest.fixture
def single(tmp_path: Path) -> Path:
    return write_config(tmp_path / "single.toml", 2776, SINGLE_SCOPE)


def store_of(config_path: Path) -> SQLiteStore:
    return SQLiteStore(config_path.parent / "stopgate.db")


def events_of(config_path: Path, **filters: Any) -> list[Event]:
    async def main() -> list[Event]:
        async with store_of(config_path) as store:
            return await store.events(**filters)

    return anyio.run(main)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read_export(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- add / remove / status -------------------------------------------------------------------------


def test_add_status_remove_exit_codes(config: Path) -> None:
    added = stopgate(
        "optouts", "add", "07700 900401", "--scope", "acme", "--reason", "phoned in", config=config
    )
    assert added.returncode == 0, added.stderr
    assert "+447700900401 opted out in scope acme" in added.stdout

    status = stopgate("optouts", "status", "+447700900401", "--scope", "acme", config=config)
    assert status.returncode == 0
    assert "OPTED OUT since" in status.stdout and "via cli" in status.stdout
    assert "admin_add" in status.stdout and "reason=phoned in" in status.stdout

    other = stopgate("optouts", "status", "+447700900401", "--scope", "other", config=config)
    assert other.returncode == 1
    assert "not opted out" in other.stdout

    no_reason = stopgate("optouts", "remove", "+447700900401", "--scope", "acme", config=config)
    assert no_reason.returncode != 0 and "--reason" in no_reason.stderr

    removed = stopgate(
        "optouts", "remove", "447700900401", "--scope", "acme", "--reason", "consent", config=config
    )
    assert removed.returncode == 0, removed.stderr
    assert "removed" in removed.stdout

    after = stopgate("optouts", "status", "07700900401", "--scope", "acme", config=config)
    assert after.returncode == 1
    assert "admin_remove" in after.stdout and "reason=consent" in after.stdout

    log = events_of(config, number="+447700900401")
    assert [(e.type, e.channel) for e in log] == [
        (EventType.ADMIN_ADD, Channel.CLI),
        (EventType.ADMIN_REMOVE, Channel.CLI),
    ]
    assert log[0].reason == "phoned in" and log[1].reason == "consent"
    # Issue 18: the operator's login name, as the operator (not as an account).
    assert log[0].operator == getpass.getuser() and log[0].account is None


def test_scope_is_required_with_several_scopes_and_defaults_with_one(config: Path, single: Path) -> None:
    line = one_error_line(stopgate("optouts", "add", "07700900401", config=config))
    assert "--scope" in line and "acme" in line and "other" in line
    assert "unknown scope" in one_error_line(
        stopgate("optouts", "add", "07700900401", "--scope", "nope", config=config)
    )

    assert stopgate("optouts", "add", "07700900401", config=single).returncode == 0
    status = stopgate("optouts", "status", "07700900401", config=single)
    assert status.returncode == 0 and "scope acme" in status.stdout


# -- import ----------------------------------------------------------------------------------------

MIXED = (
    "name,number\n"
    "ann,07700 900001\n"
    "bob,+44 7700 900002\n"
    "cat,not a number\n"
    "dan,447700900003\n"
    "eve,\n"
    "fay,0044 7700 900004\n"
    "gus,12\n"
)


def test_import_atomic_imports_nothing_when_a_row_is_bad(config: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", MIXED)
    proc = stopgate("optouts", "import", path, "--scope", "acme", config=config)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{path}:4: 'not a number' is not a phone number" in proc.stderr
    assert f"{path}:6: missing number" in proc.stderr
    assert f"{path}:8: '12' is not a phone number" in proc.stderr
    assert "3 invalid row(s)" in proc.stderr and "nothing imported" in proc.stderr
    export = stopgate("optouts", "export", config=config)
    assert read_export(export.stdout) == []
    assert events_of(config) == []


def test_import_skip_invalid_then_reimport_changes_nothing(config: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", MIXED)
    first = stopgate("optouts", "import", path, "--scope", "acme", "--skip-invalid", config=config)
    assert first.returncode == 0, first.stderr
    assert "imported 4 new opt-out(s)" in first.stdout
    assert "3 invalid row(s) skipped" in first.stdout
    assert f"{path}:4:" in first.stderr and f"{path}:8:" in first.stderr

    rows = read_export(stopgate("optouts", "export", "--scope", "acme", config=config).stdout)
    assert [r["number"] for r in rows] == [f"+44770090000{i}" for i in range(1, 5)]
    assert {r["channel"] for r in rows} == {"import"}

    again = stopgate("optouts", "import", path, "--scope", "acme", "--skip-invalid", config=config)
    assert again.returncode == 0
    assert "imported 0 new opt-out(s)" in again.stdout
    imported = events_of(config, types=[EventType.IMPORT])
    assert len(imported) == 4  # the re-import recorded nothing
    assert {e.channel for e in imported} == {Channel.IMPORT}


def test_import_scope_column(config: Path, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "scoped.csv",
        "Number,Scope\n07700900011,acme\n07700900012,other\n07700900013,\n07700900014,elsewhere\n",
    )
    # No --scope: rows with an empty scope have no default with two scopes configured.
    proc = stopgate("optouts", "import", path, "--skip-invalid", config=config)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}:4: no scope" in proc.stderr
    assert f"{path}:5: unknown scope 'elsewhere'" in proc.stderr
    rows = read_export(stopgate("optouts", "export", config=config).stdout)
    assert [(r["scope"], r["number"]) for r in rows] == [
        ("acme", "+447700900011"),
        ("other", "+447700900012"),
    ]

    with_default = stopgate("optouts", "import", path, "--scope", "acme", "--skip-invalid", config=config)
    assert "imported 1 new" in with_default.stdout  # line 4 now goes to acme


def test_import_large_file_streams(single: Path, tmp_path: Path) -> None:
    numbers = [f"07{7000000000 + i * 7919:010d}"[:11] for i in range(20000)]
    path = write_csv(tmp_path / "big.csv", "number\n" + "\n".join(numbers) + "\n")
    proc = stopgate("optouts", "import", path, config=single)
    assert proc.returncode == 0, proc.stderr
    expected = len(set(numbers))
    assert f"imported {expected} new" in proc.stdout


# -- exports ---------------------------------------------------------------------------------------


def test_export_csv_and_jsonl(config: Path) -> None:
    for number, scope in (("07700900101", "acme"), ("07700900102", "acme"), ("07700900103", "other")):
        assert stopgate("optouts", "add", number, "--scope", scope, config=config).returncode == 0

    rows = read_export(stopgate("optouts", "export", config=config).stdout)
    assert [(r["scope"], r["number"], r["channel"]) for r in rows] == [
        ("acme", "+447700900101", "cli"),
        ("acme", "+447700900102", "cli"),
        ("other", "+447700900103", "cli"),
    ]
    assert all(datetime.fromisoformat(r["since"]).tzinfo is not None for r in rows)

    jsonl = stopgate("optouts", "export", "--scope", "acme", "--format", "jsonl", config=config)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["number"] for r in records] == ["+447700900101", "+447700900102"]
    assert set(records[0]) >= {"number", "scope", "since", "channel"}


def test_audit_export_filters(config: Path) -> None:
    assert stopgate("optouts", "add", "07700900201", "--scope", "acme", config=config).returncode == 0
    assert stopgate("optouts", "add", "07700900202", "--scope", "acme", config=config).returncode == 0
    assert (
        stopgate("optouts", "remove", "07700900201", "--scope", "acme", "--reason", "ok", config=config)
    ).returncode == 0

    everything = read_export(stopgate("audit", "export", config=config).stdout)
    assert [(r["type"], r["number"]) for r in everything] == [
        ("admin_add", "+447700900201"),
        ("admin_add", "+447700900202"),
        ("admin_remove", "+447700900201"),
    ]
    one = read_export(stopgate("audit", "export", "--number", "07700 900201", config=config).stdout)
    assert [r["type"] for r in one] == ["admin_add", "admin_remove"]

    jsonl = stopgate("audit", "export", "--type", "admin_remove", "--format", "jsonl", config=config)
    assert [json.loads(line)["reason"] for line in jsonl.stdout.splitlines()] == ["ok"]

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert read_export(stopgate("audit", "export", "--since", tomorrow, config=config).stdout) == []
    assert len(read_export(stopgate("audit", "export", "--until", tomorrow, config=config).stdout)) == 3
    assert read_export(stopgate("audit", "export", "--until", "2001-01-01", config=config).stdout) == []


# -- report ----------------------------------------------------------------------------------------


def test_report_tables(config: Path) -> None:
    day = datetime(2024, 5, 1, 10, tzinfo=UTC)

    def ev(kind: EventType, number: str, **extra: Any) -> Event:
        return Event(
            type=kind, number=number, scope="acme", channel=Channel.SMS, account="acme", ts=day, **extra
        )

    async def seed() -> None:
        async with store_of(config) as store:
            await store.add_sent_counts(
                {("2024-05-01", "acme", "spring"): 4, ("2024-05-01", "acme", "news"): 10}
            )
            await store.record_last_campaigns(
                [("acme", "+447700900301", "spring", day), ("acme", "+447700900302", "news", day)]
            )
            await store.opt_out(ev(EventType.OPT_OUT, "+447700900301", keyword="STOP"))
            await store.opt_out(ev(EventType.OPT_OUT, "+447700900302", keyword="UNSUBSCRIBE"))
            await store.opt_out(ev(EventType.OPT_OUT, "+447700900303", keyword="STOP"))
            await store.opt_in(ev(EventType.OPT_IN, "+447700900302", keyword="START"))
            await store.append_events(
                [ev(EventType.HELP, "+447700900304"), ev(EventType.BLOCKED, "+447700900301")]
            )

    anyio.run(seed)
    proc = stopgate("report", "--since", "2024-04-01", config=config)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    # Per day, scope and channel: 3 opt-outs, 1 opt-in, 1 help, 1 blocked.
    assert any(line.split() == ["2024-05-01", "acme", "sms", "3", "1", "1", "1"] for line in lines), out
    assert any(line.split() == ["acme", "STOP", "2"] for line in lines), out
    assert any(line.split() == ["acme", "UNSUBSCRIBE", "1"] for line in lines), out
    assert any(line.split() == ["acme", "spring", "4", "1", "25.00%"] for line in lines), out
    assert any(line.split() == ["acme", "news", "10", "1", "10.00%"] for line in lines), out
    assert any(line.split() == ["acme", "(unknown)", "-", "1", "-"] for line in lines), out

    later = stopgate("report", "--since", "2024-06-01", "--scope", "acme", config=config)
    assert later.returncode == 0 and "(no events)" in later.stdout


def test_check_config(config: Path) -> None:
    proc = stopgate("check-config", config=config)
    assert proc.returncode == 0
    assert "config OK" in proc.stdout and "acme" in proc.stdout


# -- errors ----------------------------------------------------------------------------------------


def test_errors_are_one_line_without_traceback(config: Path, tmp_path: Path) -> None:
    assert "is not a phone number" in one_error_line(
        stopgate("optouts", "add", "hello", "--scope", "acme", config=config)
    )
    assert "is not a phone number" in one_error_line(
        stopgate("optouts", "status", "12", "--scope", "acme", config=config)
    )
    assert "cannot open" in one_error_line(
        stopgate("optouts", "import", tmp_path / "missing.csv", "--scope", "acme", config=config)
    )
    assert "is a directory" in one_error_line(
        stopgate("optouts", "import", tmp_path, "--scope", "acme", config=config)
    )
    no_column = write_csv(tmp_path / "nocol.csv", "phone\n07700900401\n")
    assert "no 'number' column" in one_error_line(
        stopgate("optouts", "import", no_column, "--scope", "acme", config=config)
    )
    empty = write_csv(tmp_path / "empty.csv", "")
    assert "empty file" in one_error_line(
        stopgate("optouts", "import", empty, "--scope", "acme", config=config)
    )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"number\n\xff\xfe\x00\x81garbage\n")
    assert "not UTF-8" in one_error_line(
        stopgate("optouts", "import", binary, "--scope", "acme", config=config)
    )
    quotes = write_csv(tmp_path / "quotes.csv", 'number\n07700900401\n"07700"900402\n')
    line = one_error_line(stopgate("optouts", "import", quotes, "--scope", "acme", config=config))
    assert f"{quotes}:3: unreadable CSV" in line
    assert "config file not found" in one_error_line(
        stopgate("optouts", "export", config=tmp_path / "nope.toml")
    )
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[listen\nport = ", encoding="utf-8")
    assert "invalid config" in one_error_line(stopgate("report", config=bad_toml))
    assert "--since" in one_error_line(stopgate("audit", "export", "--since", "last week", config=config))

    # A store that cannot be opened (its directory does not exist).
    broken = write_config(tmp_path / "broken.toml", 2776, {"storage": {"path": "no/such/dir/x.db"}})
    assert "store error" in one_error_line(
        stopgate("optouts", "add", "07700900401", "--scope", "acme", config=broken)
    )
