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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from gateway.config.accounts import ACCOUNT_KEYS, parse_account
from gateway.config.errors import ConfigError
from gateway.config.integrations import (
    AUDIT_KEYS,
    WEB_KEYS,
    AuditConfig,
    WebConfig,
    WebhookConfig,
    parse_audit,
    parse_web,
    parse_webhooks,
)
from gateway.config.locate import key_lines, line_of
from gateway.config.mo_routing import MO_KEYS, MO_ROUTE_KEYS, parse_mo, parse_mo_route
from gateway.config.reader import Errors, Table
from gateway.config.routes import ROUTE_KEYS, check_routes, parse_route
from gateway.config.schema import (
    AccountConfig,
    AdminConfig,
    Config,
    ListenConfig,
    LoggingConfig,
    MoConfig,
    NumbersConfig,
    OptoutConfig,
    SecurityConfig,
    SessionConfig,
    StorageConfig,
    UpstreamConfig,
)
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
from gateway.policy.mo_routes import MoRoute
from gateway.policy.routes import RouteRule

_T = TypeVar("_T")
NO_TABLES: list[object] = []

TOP_KEYS = frozenset(
    {"listen", "storage", "numbers", "logging", "session", "security", "admin", "optout"}
    | {"upstream", "account", "webhook", "audit", "web", "mo", "mo_route", "route"}
)


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML config file. Errors are prefixed with the file path."""
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
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
        raise ConfigError.of(_in_file(exc.errors, file, text, data)) from None


def _in_file(
    errors: tuple[ConfigError, ...], file: Path, text: str, data: Mapping[str, Any]
) -> list[ConfigError]:
    """``errors`` as a reader of ``file`` wants them: ``FILE:LINE: account 'acme'.key: ...``, by line.

    An account is named by its ``system_id`` (when it has a usable one) rather than its index.
    """
    lines = key_lines(text)
    accounts = data.get("account")
    names: dict[str, str] = {}
    if isinstance(accounts, list):
        for i, account in enumerate(accounts):
            system_id = account.get("system_id") if isinstance(account, Mapping) else None
            if isinstance(system_id, str) and system_id.strip():
                names[f"account[{i}]"] = f"account {system_id!r}"
    located: list[tuple[int, ConfigError]] = []
    for error in errors:
        message = str(error)
        line = line_of(lines, error.key) if error.key else None
        if error.key:
            head = error.key.split(".")[0]
            if head in names and message.startswith(head):
                message = names[head] + message[len(head) :]
        where = f"{file}:{line}" if line is not None else str(file)
        located.append((line or 0, ConfigError(f"{where}: {message}", key=error.key)))
    located.sort(key=lambda item: item[0])
    return [error for _, error in located]


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
    errors = Errors()
    root = Table(data, "", TOP_KEYS, errors)
    base = Path(base_dir)

    def attempt(parse: Callable[[], _T], fallback: _T) -> _T:
        """``parse()``, or (its error recorded) ``fallback`` so that the checking goes on."""
        try:
            return parse()
        except ConfigError as exc:
            errors.add(exc)
            return fallback

    listen = attempt(lambda: parse_listen(root.table("listen", LISTEN_KEYS), base), ListenConfig())
    storage = attempt(lambda: parse_storage(root.table("storage", STORAGE_KEYS), base), StorageConfig())
    numbers = attempt(lambda: parse_numbers(root.table("numbers", NUMBERS_KEYS)), NumbersConfig())
    logging = attempt(lambda: parse_logging(root.table("logging", LOGGING_KEYS)), LoggingConfig())
    session = attempt(lambda: parse_session(root.table("session", SESSION_KEYS)), SessionConfig())
    security = attempt(lambda: parse_security(root.table("security", SECURITY_KEYS)), SecurityConfig())
    admin = attempt(lambda: parse_admin(root.table("admin", ADMIN_KEYS), env), AdminConfig())
    optout = attempt(lambda: parse_optout(root.table("optout", OPTOUT_KEYS), OptoutConfig()), OptoutConfig())

    upstreams: dict[str, UpstreamConfig] = {}
    broken_upstreams = False
    for i, raw in enumerate(attempt(lambda: root.array_of_tables("upstream"), NO_TABLES)):
        try:
            up = parse_upstream(Table(raw, f"upstream[{i}]", UPSTREAM_KEYS, errors), base, session)
        except ConfigError as exc:
            errors.add(exc)
            broken_upstreams = True
            continue
        if up.name in upstreams:
            key = f"upstream[{i}].name"
            errors.add(ConfigError(f"{key}: duplicate upstream name {up.name!r}", key=key))
        upstreams[up.name] = up
    if not upstreams and not broken_upstreams and "upstream" not in errors.by_key:
        errors.add(ConfigError("upstream: at least one [[upstream]] table is required", key="upstream"))

    accounts: dict[str, AccountConfig] = {}
    for i, raw in enumerate(attempt(lambda: root.array_of_tables("account"), NO_TABLES)):
        try:
            acct = parse_account(Table(raw, f"account[{i}]", ACCOUNT_KEYS, errors), optout, upstreams)
        except ConfigError as exc:
            # An account naming an upstream that is itself in error is not a second problem.
            if not (broken_upstreams and exc.key == f"account[{i}].upstream"):
                errors.add(exc)
            continue
        if acct.system_id in accounts:
            key = f"account[{i}].system_id"
            errors.add(ConfigError(f"{key}: duplicate account system_id {acct.system_id!r}", key=key))
        accounts[acct.system_id] = acct
    if not accounts and not errors:
        errors.add(ConfigError("account: at least one [[account]] table is required", key="account"))
    no_webhooks: tuple[WebhookConfig, ...] = ()
    webhooks = attempt(lambda: parse_webhooks(root.array_of_tables("webhook"), errors), no_webhooks)
    audit = attempt(lambda: parse_audit(root.table("audit", AUDIT_KEYS)), AuditConfig())
    web = attempt(lambda: parse_web(root.table("web", WEB_KEYS)), WebConfig())
    for i, acct in enumerate(accounts.values()):
        if "{optout_url}" in acct.footer and not web.enabled:
            key = f"account[{i}].footer"
            message = f"{key}: {{optout_url}} needs [web] public_url (the links' base)"
            errors.add(ConfigError(message, key=key))
    mo_routes: list[MoRoute] = []
    for i, raw in enumerate(attempt(lambda: root.array_of_tables("mo_route"), NO_TABLES)):
        try:
            mo_routes.append(parse_mo_route(Table(raw, f"mo_route[{i}]", MO_ROUTE_KEYS, errors), accounts))
        except ConfigError as exc:
            errors.add(exc)
    for acct in accounts.values():
        mo_routes.extend(acct.numbers)
    mo = attempt(lambda: parse_mo(root.table("mo", MO_KEYS), tuple(mo_routes), accounts), MoConfig())
    routes: list[RouteRule] = []
    for i, raw in enumerate(attempt(lambda: root.array_of_tables("route"), NO_TABLES)):
        try:
            routes.append(parse_route(Table(raw, f"route[{i}]", ROUTE_KEYS, errors), i))
        except ConfigError as exc:
            errors.add(exc)
    if not errors:
        try:
            check_routes(tuple(routes), upstreams, accounts)
        except ConfigError as exc:
            for error in exc.errors:
                errors.add(error)
    if errors:
        raise ConfigError.of(errors.all())

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
        webhooks=webhooks,
        audit=audit,
        web=web,
        mo=mo,
        routes=tuple(routes),
    )
