"""Issue 18, items 4 and 9: `stopgate run` fails to start with one `stopgate: ...` line and exit
status 2 (storage, ports, TLS), `check-config` reports every error at once with its line and the
account's system_id, warns about footers, and checks the storage directory; no silent default config;
`--version`. All through the real command, as subprocesses."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.config_file import write_config
from tools.ports import free_port
from tools.stopgate_process import stopgate_process

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STOPGATE_")}
ENV["PYTHONPATH"] = str(ROOT)


def stopgate(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=60, check=False)


def fails_with_one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stopgate: "), proc.stderr
    return lines[0]


def config_with(tmp_path: Path, override: dict[str, Any], name: str = "stopgate.toml") -> Path:
    return write_config(tmp_path / name, free_port(), {"listen": {"port": free_port()}, **override})


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other process is listening on."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# -- item 4: `run` startup failures ----------------------------------------------------------------


def test_run_with_a_missing_storage_directory(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"storage": {"path": str(tmp_path / "nowhere" / "s.db")}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert line == f"stopgate: cannot start: storage directory {tmp_path / 'nowhere'} does not exist " + (
        "(create it, or change storage.path)"
    )


def test_run_with_an_unwritable_storage_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        directory = Path("/proc/sys")  # not writable even by root
    else:
        directory = tmp_path / "ro"
        directory.mkdir(mode=0o500)
    config = config_with(tmp_path, {"storage": {"path": str(directory / "s.db")}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert f"storage directory {directory} is not writable" in line
    assert "is not writable" in stopgate("check-config", "--config", config).stderr


def test_run_with_a_storage_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    config = config_with(tmp_path, {"storage": {"path": str(tmp_path / "file" / "s.db")}})
    assert "is not a directory" in fails_with_one_line(stopgate("run", "--config", config))


def test_run_with_the_smpp_port_in_use_names_the_address(tmp_path: Path, listening: int) -> None:
    config = config_with(tmp_path, {"listen": {"port": listening}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert line == f"stopgate: cannot start: SMPP listener cannot listen on 127.0.0.1:{listening}: " + (
        "address already in use"
    )


def test_run_with_the_admin_port_in_use_names_the_address(tmp_path: Path, listening: int) -> None:
    config = config_with(tmp_path, {"admin": {"enabled": True, "listen": f"127.0.0.1:{listening}"}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert f"admin API cannot listen on 127.0.0.1:{listening}: address already in use" in line


def test_run_with_tls_files_that_do_not_load(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    config = config_with(tmp_path, {"listen": {"tls_cert": str(cert), "tls_key": str(key)}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert f"listen.tls_cert {cert} and listen.tls_key {key} cannot be loaded" in line


def test_run_with_an_invalid_config_lists_every_error_on_one_line(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"session": {"window": 0}, "numbers": {"default_country": "XX"}})
    line = fails_with_one_line(stopgate("run", "--config", config))
    assert "session.window" in line and "numbers.default_country" in line


async def test_run_logs_the_config_file_it_loaded(tmp_path: Path) -> None:
    port = free_port()
    override = {"listen": {"port": port}, "logging": {"level": "info"}}
    config = write_config(tmp_path / "stopgate.toml", free_port(), override)
    async with stopgate_process(config, port):
        pass
    log = (tmp_path / "stopgate.log").read_text()
    assert '"config loaded"' in log and f'"path": "{config}"' in log


# -- item 9: config ergonomics ---------------------------------------------------------------------


def test_no_silent_default_config(tmp_path: Path) -> None:
    # In the checkout, where config/example.toml exists: still refused, with what to do.
    for cwd in (ROOT, tmp_path):
        line = fails_with_one_line(stopgate("optouts", "status", "07700900401", cwd=cwd))
        assert "--config" in line and "STOPGATE_CONFIG" in line
        assert "no config file given" in fails_with_one_line(stopgate("run", cwd=cwd))


def test_version() -> None:
    proc = stopgate("--version")
    assert proc.returncode == 0 and re.fullmatch(r"stopgate \d+\.\d+\.\d+\S*\n", proc.stdout)


def test_check_config_reports_every_error_with_its_line_and_account(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    text = (ROOT / "config" / "example.toml").read_text()
    text = text.replace("window = 64", "window = 0")  # [session]
    text = text.replace('listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:8025"\ncolour = "red"')  # [admin]
    text = text.replace("footer_days = 30", "footer_days = 0")  # first account, acme
    text = text.replace('traffic = "transactional"', 'traffic = "promo"')  # second account, acme-otp
    config.write_text(text)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, line in enumerate(lines, 1) if fragment in line)

    proc = stopgate("check-config", "--config", config)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert errors[-1] == f"stopgate: 4 errors in {config}"
    expected = [
        f"stopgate: invalid config: {config}:{line_of('window = 0')}: session.window: ",
        f"stopgate: invalid config: {config}:{line_of('colour')}: admin.colour: unknown key",
        f"stopgate: invalid config: {config}:{line_of('footer_days = 0')}: account 'acme'.footer_days: ",
        f"stopgate: invalid config: {config}:{line_of('promo')}: account 'acme-otp'.traffic: ",
    ]
    assert len(errors) == 5
    for line, start in zip(errors, expected, strict=False):
        assert line.startswith(start), (line, start)


def test_check_config_warns_about_footers(tmp_path: Path) -> None:
    accounts = [
        {"system_id": "empty", "password": "pw", "upstream": "sim", "scope": "a", "footer": ""},
        {"system_id": "silent", "password": "pw", "upstream": "sim", "scope": "a", "footer": "Acme Ltd"},
        {
            "system_id": "curly",
            "password": "pw",
            "upstream": "sim",
            "scope": "a",
            "footer": "Reply STOP – it’s free",
        },
        {
            "system_id": "fine",
            "password": "pw",
            "upstream": "sim",
            "scope": "a",
            "footer": "Text STOP to end",
        },
        {
            "system_id": "otp",
            "password": "pw",
            "upstream": "sim",
            "scope": "a",
            "traffic": "transactional",
            "footer": "",
        },
    ]
    config = config_with(tmp_path, {"account": accounts})
    proc = stopgate("check-config", "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert "config OK" in proc.stdout and f"config: {config}" in proc.stdout
    warnings = proc.stderr.strip().splitlines()
    assert all(w.startswith("warning: account '") for w in warnings), warnings
    assert any("'empty': footer is empty" in w for w in warnings)
    assert any("'silent': footer 'Acme Ltd' names no opt-out keyword" in w for w in warnings)
    assert any("'curly': footer has characters outside GSM 03.38" in w and "U+2019" in w for w in warnings)
    assert not any("'fine'" in w or "'otp'" in w for w in warnings)
    assert len(warnings) == 3  # curly: U+2013 and U+2019 in one warning


def test_check_config_checks_the_storage_directory(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"storage": {"path": str(tmp_path / "missing" / "s.db")}})
    proc = stopgate("check-config", "--config", config)
    assert proc.returncode == 2
    assert (
        f"stopgate: cannot run with this config: storage directory {tmp_path / 'missing'} does not exist"
        in (proc.stderr)
    )
    assert "config OK" not in proc.stdout


def test_the_docs_name_routes_and_commands_that_exist() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "config" / "example.toml"]
    for doc in docs:
        text = doc.read_text()
        assert not re.search(r"/health(?!z)\b", text), doc
        assert "gateway.passwords" not in text, doc
        for module in re.findall(r"python -m ([\w.]+)", text):
            spec = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import importlib.util as u; print(u.find_spec({module!r}) is not None)",
                ],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=ENV,
                check=True,
            )
            assert spec.stdout.strip() == "True", (doc, module)
