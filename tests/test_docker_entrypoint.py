"""Issue 18, item 1: the Docker image refuses the example credentials on its all-interfaces listeners,
and its HEALTHCHECK follows the configured admin address. No Docker engine is needed: the image's
config is made with the Dockerfile's own ``sed`` expressions and its entrypoint script is run with sh."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import anyio
import pytest

from gateway.config import load_config
from gateway.ops.admin import AdminServer
from gateway.ops.docker_check import (
    EXAMPLE_PASSWORDS,
    EXAMPLE_TOKENS,
    config_path,
    exposure_problems,
    health_url,
    healthy,
)
from gateway.store import MemoryStore
from tools.console_client import admin_context
from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STOPGATE_")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    return {**base, "PATH": path, "PYTHONPATH": str(ROOT), **extra}


def image_config(tmp_path: Path) -> Path:
    """config/example.toml as the Dockerfile rewrites it (its ``sed -e`` expressions, applied)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    run = re.search(r"RUN sed (.*?) /etc/stopgate/stopgate.toml", dockerfile, re.S)
    assert run is not None
    words = shlex.split(run.group(1).replace("\\\n", " "))
    target = tmp_path / "stopgate.toml"
    target.write_text(EXAMPLE.read_text())
    subprocess.run(["sed", "-i", *words, str(target)], check=True)
    text = target.read_text()
    assert 'listen = "0.0.0.0:8025"' in text and 'host = "0.0.0.0"' in text
    return target


def entrypoint(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        env=env(**environ),
        timeout=60,
        check=False,
    )


def test_the_image_refuses_the_example_token_and_passwords(tmp_path: Path) -> None:
    config = image_config(tmp_path)
    proc = entrypoint("run", STOPGATE_CONFIG=str(config))
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert all(line.startswith("stopgate: refusing to start: ") for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    assert any("'change-me'" in line and "STOPGATE_ADMIN_TOKEN" in line for line in lines)
    assert any("'acme'" in line and "/etc/stopgate/stopgate.toml" in line for line in lines)
    assert any("'acme-otp'" in line for line in lines)
    # No arguments means `run`, and `--config` is followed like `stopgate run` follows it.
    assert entrypoint(STOPGATE_CONFIG=str(config)).returncode == 2
    assert entrypoint("run", "--config", str(config)).returncode == 2


def test_the_token_variable_replaces_the_example_token(tmp_path: Path) -> None:
    config = image_config(tmp_path)
    proc = entrypoint("run", STOPGATE_CONFIG=str(config), STOPGATE_ADMIN_TOKEN="f" * 64)
    assert proc.returncode == 2  # the example accounts still refuse
    assert "change-me" not in proc.stderr and "'acme'" in proc.stderr
    assert load_config(config, environ={"STOPGATE_ADMIN_TOKEN": "f" * 64}).admin.tokens == ("f" * 64,)


def test_other_commands_are_not_checked(tmp_path: Path) -> None:
    version = entrypoint("--version")
    assert version.returncode == 0 and version.stdout.startswith("stopgate "), version.stderr
    # check-config runs (outside the image /data does not exist, which it reports), unrefused.
    proc = entrypoint("check-config", "--config", str(image_config(tmp_path)))
    assert "refusing" not in proc.stderr and "storage directory /data" in proc.stderr


def test_own_credentials_or_loopback_listeners_pass(tmp_path: Path) -> None:
    assert exposure_problems(load_config(EXAMPLE, environ={})) == []  # loopback only
    text = image_config(tmp_path).read_text()
    text = text.replace('tokens = ["change-me"]', 'tokens = ["a-long-random-token"]')
    text = text.replace('"acmepw"', '"x9!kQ2"').replace('"otppw"', '"p4$Lm8"')
    own = tmp_path / "own.toml"
    own.write_text(text)
    assert exposure_problems(load_config(own, environ={})) == []


def test_a_hashed_example_password_is_caught_too(tmp_path: Path) -> None:
    from gateway.config.passwords import hash_password

    text = (
        image_config(tmp_path)
        .read_text()
        .replace('password = "acmepw"', f'password_hash = "{hash_password("acmepw", iterations=1000)}"')
    )
    path = tmp_path / "hashed.toml"
    path.write_text(text)
    problems = exposure_problems(load_config(path, environ={"STOPGATE_ADMIN_TOKEN": "t" * 40}))
    assert any("'acme'" in p for p in problems)


def test_the_known_examples_are_the_example_files() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert set(data["admin"]["tokens"]) <= EXAMPLE_TOKENS
    assert {a["password"] for a in data["account"] if "password" in a} <= EXAMPLE_PASSWORDS


def test_config_path_follows_the_command_line() -> None:
    assert config_path(["run", "--config", "/a.toml"], {}) == Path("/a.toml")
    assert config_path(["run", "--config=/b.toml"], {"STOPGATE_CONFIG": "/c.toml"}) == Path("/b.toml")
    assert config_path(["run"], {"STOPGATE_CONFIG": "/c.toml"}) == Path("/c.toml")
    assert config_path([], {}) == Path("/etc/stopgate/stopgate.toml")


def test_the_healthcheck_asks_the_configured_admin_address(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "health.toml"
    path.write_text(EXAMPLE.read_text().replace('listen = "127.0.0.1:8025"', f'listen = "0.0.0.0:{port}"'))
    config = load_config(path, environ={})
    assert health_url(config) == f"http://127.0.0.1:{port}/healthz"
    assert not healthy(config, timeout=1)

    async def main() -> None:
        store = MemoryStore()
        await store.open()
        context = admin_context(store, config)
        server = AdminServer(context)
        async with anyio.create_task_group() as tg:
            await tg.start(server.serve)
            proc = await anyio.run_process(
                [sys.executable, "-m", "gateway.ops.docker_check", "--health", "--config", str(path)],
                env=env(),
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            await server.stop()
            tg.cancel_scope.cancel()

    anyio.run(main)


def test_dockerignore_keeps_the_venv_the_store_and_caches_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".git", "*.db", "**/__pycache__", ".mypy_cache", ".pytest_cache"):
        assert entry in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :]
    assert "gateway.ops.docker_check" in healthcheck and "8025" not in healthcheck


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.1.2.3"])
def test_loopback_hosts(host: str) -> None:
    from gateway.ops.docker_check import is_loopback

    assert is_loopback(host)
    assert not is_loopback("0.0.0.0") and not is_loopback("stopgate.example.com")
