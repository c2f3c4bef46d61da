"""Loading: a TOML file (or already-parsed data) to a validated :class:`~gateway.config.schema.Config`.

Every problem raises :class:`ConfigError` whose message starts with the offending key path, e.g.
``account[1].upstream: unknown upstream 'simx' (known: sim)``, prefixed with the file path when
loading a file. Unknown keys are errors (with a "did you mean" suggestion) so that typos are never
silently ignored. Relative file paths resolve against the directory of the config file. See
``config/example.toml`` for every key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config.accounts import ACCOUNT_KEYS, parse_account
from gateway.config.errors import ConfigError
from gateway.config.integrations import AUDIT_KEYS, WEB_KEYS, parse_audit, parse_web, parse_webhooks
from gateway.config.reader import Table
from gateway.config.schema import AccountConfig, Config, OptoutConfig, UpstreamConfig
from gateway.config.sections import (
    ADMIN_KEYS,
    LISTEN_KEYS,
    LOGGING_KEYS,
    NUMBERS_KEYS,
    OPTOUT_KEYS,
    SECURITY_KEYS,
    SESSION_KEYS,
    STORAGE_KEYS,
    parse_admin,
    parse_listen,
    parse_logging,
    parse_numbers,
    parse_optout,
    parse_security,
    parse_session,
    parse_storage,
)
from gateway.config.upstreams import UPSTREAM_KEYS, parse_upstream

TOP_KEYS = frozenset(
    {"listen", "storage", "numbers", "logging", "session", "security", "admin", "optout"}
    | {"upstream", "account", "webhook", "audit", "web"}
)


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> Config:
    """Read and validate a TOML config file. Errors are prefixed with the file path."""
    file = Path(path).expanduser()
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: not UTF-8 ({exc.reason})") from None
    file = file.resolve()
    try:
        return parse_config(data, file.parent, environ=environ, source_path=file)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}", key=exc.key) from None


def parse_config(
    data: Mapping[str, Any],
    base_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    source_path: Path | None = None,
) -> Config:
    """Validate already-parsed TOML data. Relative paths resolve against ``base_dir``.

    ``environ`` (default ``os.environ``) is where ``admin.token_env`` is looked up.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    root = Table(data, "", TOP_KEYS)
    base = Path(base_dir)

    listen = parse_listen(root.table("listen", LISTEN_KEYS), base)
    storage = parse_storage(root.table("storage", STORAGE_KEYS), base)
    numbers = parse_numbers(root.table("numbers", NUMBERS_KEYS))
    logging = parse_logging(root.table("logging", LOGGING_KEYS))
    session = parse_session(root.table("session", SESSION_KEYS))
    security = parse_security(root.table("security", SECURITY_KEYS))
    admin = parse_admin(root.table("admin", ADMIN_KEYS), env)
    optout = parse_optout(root.table("optout", OPTOUT_KEYS), OptoutConfig())

    upstreams: dict[str, UpstreamConfig] = {}
    for i, raw in enumerate(root.array_of_tables("upstream")):
        up = parse_upstream(Table(raw, f"upstream[{i}]", UPSTREAM_KEYS), base, session)
        if up.name in upstreams:
            raise ConfigError(
                f"upstream[{i}].name: duplicate upstream name {up.name!r}",
                key=f"upstream[{i}].name",
            )
        upstreams[up.name] = up
    if not upstreams:
        raise ConfigError("upstream: at least one [[upstream]] table is required", key="upstream")

    accounts: dict[str, AccountConfig] = {}
    for i, raw in enumerate(root.array_of_tables("account")):
        acct = parse_account(Table(raw, f"account[{i}]", ACCOUNT_KEYS), optout, upstreams)
        if acct.system_id in accounts:
            key = f"account[{i}].system_id"
            raise ConfigError(f"{key}: duplicate account system_id {acct.system_id!r}", key=key)
        accounts[acct.system_id] = acct
    if not accounts:
        raise ConfigError("account: at least one [[account]] table is required", key="account")

    web = parse_web(root.table("web", WEB_KEYS))
    for i, acct in enumerate(accounts.values()):
        if "{optout_url}" in acct.footer and not web.enabled:
            key = f"account[{i}].footer"
            raise ConfigError(f"{key}: {{optout_url}} needs [web] public_url (the links' base)", key=key)

    return Config(
        listen=listen,
        storage=storage,
        numbers=numbers,
        logging=logging,
        session=session,
        security=security,
        admin=admin,
        optout=optout,
        upstreams=upstreams,
        accounts=accounts,
        source_path=source_path,
        webhooks=parse_webhooks(root.array_of_tables("webhook")),
        audit=parse_audit(root.table("audit", AUDIT_KEYS)),
        web=web,
    )
