"""The config file of the benchmarked ``stopgate run``."""

from __future__ import annotations

from pathlib import Path

from tools.bench.mixes import FOOTER, MARKETING_ACCOUNT, SCOPE, TRANSACTIONAL_ACCOUNT
from tools.config_toml import simulator_upstream, to_toml


def write_config(
    directory: Path,
    *,
    smsc_port: int,
    listen_port: int,
    storage: Path,
    window: int,
    max_sessions: int,
    log_level: str = "info",
    pooled: int = 0,
) -> Path:
    """A config with the marketing account "acme" and the transactional "bulk" (same scope).

    ``pooled`` > 0: pooled mode, Stopgate holding that many binds to the simulator (one default route)."""
    (acme, acme_pw), (bulk, bulk_pw) = MARKETING_ACCOUNT, TRANSACTIONAL_ACCOUNT
    accounts = [
        {"system_id": acme, "password": acme_pw, "traffic": "marketing", "footer": FOOTER},
        {"system_id": bulk, "password": bulk_pw, "traffic": "transactional"},
    ]
    text = to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": listen_port},
            "storage": {"path": str(storage)},
            "numbers": {"default_country": "GB"},
            "logging": {"format": "json", "level": log_level},
            "session": {"window": window, "response_timeout": 10.0, "shutdown_grace": 2.0},
            "admin": {"enabled": False},
            "upstream": [
                simulator_upstream(smsc_port) | ({"binds": pooled, "window": window} if pooled else {})
            ],
            **({"route": [{"name": "default", "upstreams": ["sim"]}]} if pooled else {}),
            "account": [
                {**account, "upstream": "sim", "scope": SCOPE, "max_sessions": max_sessions}
                for account in accounts
            ],
        }
    )
    path = directory / "stopgate.toml"
    path.write_text(text)
    return path
