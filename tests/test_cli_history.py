"""Issue 18, item 11: CLI changes record the OS user as their operator (not as an account), a number's
blocked messages are paged after its opt-out history, an older store gains the operator column, and
the wheel holds the package alone (``tools`` runs from the checkout)."""

from __future__ import annotations

import getpass
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import anyio
import pytest

from gateway.store.model import Channel, Event, EventType
from gateway.store.sqlite import SQLiteStore
from gateway.store.sqlite.schema import migrations
from tests.config_file import write_config

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STOPGATE_")}
ENV["PYTHONPATH"] = str(ROOT)
SINGLE = {"account": [{"system_id": "acme", "password": "acmepw", "upstream": "sim", "scope": "acme"}]}


def stopgate(*args: str | Path, config: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", *map(str, args), "--config", str(config)]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60, check=False)


def events(config: Path) -> list[Event]:
    async def read() -> list[Event]:
        async with SQLiteStore(config.parent / "stopgate.db") as store:
            return await store.events()

    return anyio.run(read)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stopgate.toml", 2776, SINGLE)


def test_cli_changes_and_imports_record_the_os_user_as_operator(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "dnc.csv"
    csv_file.write_text("number\n07700900402\n07700900403\n")
    assert stopgate("optouts", "add", "07700900401", config=config).returncode == 0
    assert stopgate("optouts", "import", csv_file, config=config).returncode == 0
    assert stopgate("optouts", "remove", "07700900401", "--reason", "consent", config=config).returncode == 0
    log = events(config)
    assert [(e.type, e.channel) for e in log] == [
        (EventType.ADMIN_ADD, Channel.CLI),
        (EventType.IMPORT, Channel.IMPORT),
        (EventType.IMPORT, Channel.IMPORT),
        (EventType.ADMIN_REMOVE, Channel.CLI),
    ]
    assert {(e.operator, e.account) for e in log} == {(getpass.getuser(), None)}
    exported = stopgate("audit", "export", "--format", "csv", config=config).stdout.splitlines()
    assert exported[0].split(",")[-3:] == ["operator", "address", "received_at"]
    assert all(line.endswith(f",{getpass.getuser()},,") for line in exported[1:])  # not SMS: no address
    status = stopgate("optouts", "status", "07700900402", config=config)
    assert f"operator={getpass.getuser()}" in status.stdout and "account=" not in status.stdout


def test_status_pages_blocked_messages_after_the_history(config: Path) -> None:
    assert stopgate("optouts", "add", "07700900401", config=config).returncode == 0

    async def block() -> None:
        async with SQLiteStore(config.parent / "stopgate.db") as store:
            blocked = Event(
                type=EventType.BLOCKED,
                number="+447700900401",
                scope="acme",
                channel=Channel.SMS,
                account="acme",
            )
            await store.append_events([blocked] * 15)

    anyio.run(block)
    out = stopgate("optouts", "status", "07700900401", config=config).stdout.splitlines()
    assert out[1] == "history (1 events):" and "admin_add" in out[2]
    assert out[3] == "blocked messages (first 10):"
    assert sum("blocked " in line for line in out[4:14]) == 10
    assert "more: --blocked N" in out[14] and len(out) == 15
    every = stopgate("optouts", "status", "07700900401", "--blocked", "50", config=config).stdout
    assert "blocked messages (15):" in every and "more:" not in every


def test_an_older_store_gains_the_operator_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    version, first = migrations()[0]
    assert version == 1
    conn.executescript(first)
    conn.execute(
        "INSERT INTO events (ts, type, scope, number, channel, account) VALUES (1, 'admin_add', 'acme',"
        " '+447700900401', 'cli', 'root')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    async def read() -> list[Event]:
        async with SQLiteStore(path) as store:
            await store.opt_out(
                Event(
                    type=EventType.ADMIN_ADD,
                    number="+447700900402",
                    scope="acme",
                    channel=Channel.CLI,
                    operator="ann",
                )
            )
            return await store.events()

    old, new = anyio.run(read)
    assert (old.account, old.operator) == ("root", None)  # kept as recorded
    assert (new.account, new.operator) == (None, "ann")


def test_the_wheel_holds_the_package_alone(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("gateway", "tools"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("stopgate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"gateway", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "gateway/store/sqlite/migrations/0002_event_operator.sql" in names
    # ... while the tools still run from the checkout.
    proc = subprocess.run(
        [sys.executable, "-m", "tools.smsc_ctl", "--help"], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
