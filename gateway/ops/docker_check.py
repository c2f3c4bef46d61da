"""What the Docker image checks before ``stopgate run`` and for its ``HEALTHCHECK``.

The image listens on every interface, so it must not start with the credentials published in
``config/example.toml``: anyone who reaches the admin port could lift opt-outs with the example token,
and anyone who reaches the SMPP port could send as the example accounts. :func:`exposure_problems`
names each such credential and what to set instead; ``docker/entrypoint.sh`` runs
``python -m gateway.ops.docker_check`` and exits 2 with one ``stopgate: ...`` line per problem.

``python -m gateway.ops.docker_check --health`` is the ``HEALTHCHECK``: it asks ``/healthz`` on the
admin address of the config in force (0.0.0.0 is asked on 127.0.0.1), or, with the admin API
disabled, opens a connection to the SMPP port.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from gateway.config import Config, ConfigError, load_config
from gateway.config.schema import join_host_port

#: The admin tokens of ``config/example.toml`` (tests check that this stays complete).
EXAMPLE_TOKENS = frozenset({"change-me"})
#: The account passwords of ``config/example.toml``.
EXAMPLE_PASSWORDS = frozenset({"acmepw", "otppw"})

DEFAULT_CONFIG = "/etc/stopgate/stopgate.toml"


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_problems(config: Config) -> list[str]:
    """Each example credential reachable from another machine, with what to set instead."""
    problems: list[str] = []
    admin = config.admin
    if admin.enabled and not is_loopback(admin.host):
        for token in admin.tokens:
            if token in EXAMPLE_TOKENS:
                problems.append(
                    f"admin API on {admin.listen} accepts the example token {token!r}: set "
                    f"${admin.token_env or 'STOPGATE_ADMIN_TOKEN'} to a long random value (it replaces "
                    "admin.tokens), e.g. `openssl rand -hex 32`"
                )
    if not is_loopback(config.listen.host):
        where = join_host_port(config.listen.host, config.listen.port)
        for account in config.accounts.values():
            for example in sorted(EXAMPLE_PASSWORDS):
                if account.verify_password(example):
                    problems.append(
                        f"SMPP listener on {where} accepts account {account.system_id!r} with the example "
                        "password: mount your own config at /etc/stopgate/stopgate.toml (STOPGATE_CONFIG) "
                        "with your accounts and `stopgate hash-password` hashes"
                    )
                    break
    return problems


def health_url(config: Config) -> str:
    """``/healthz`` on the configured admin address, as a client on this machine reaches it."""
    host = config.admin.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{join_host_port(host, config.admin.port)}/healthz"


def healthy(config: Config, timeout: float = 2.0) -> bool:
    if not config.admin.enabled:
        host = config.listen.host if config.listen.host not in ("0.0.0.0", "::") else "127.0.0.1"
        try:
            with socket.create_connection((host, config.listen.port), timeout=timeout):
                return True
        except OSError:
            return False
    request = urllib.request.Request(health_url(config))
    if not config.admin.open_health and config.admin.tokens:
        request.add_header("Authorization", f"Bearer {config.admin.tokens[0]}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return int(resp.status) == 200
    except OSError:
        return False


def config_path(args: Sequence[str], environ: dict[str, str] | os._Environ[str]) -> Path:
    """The config ``stopgate ARGS`` would read: ``--config``, else ``$STOPGATE_CONFIG``."""
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return Path(environ.get("STOPGATE_CONFIG", DEFAULT_CONFIG))


def main(argv: Sequence[str] | None = None) -> int:
    """``[--health] [stopgate arguments]``: exit 0 when safe (or healthy), 2 (1 unhealthy) if not."""
    args = list(sys.argv[1:] if argv is None else argv)
    health = "--health" in args
    path = config_path(args, os.environ)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"stopgate: invalid config: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if health:
        return 0 if healthy(config) else 1
    problems = exposure_problems(config)
    for problem in problems:
        print(f"stopgate: refusing to start: {problem}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
