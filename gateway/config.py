"""Stopgate configuration: a TOML file parsed into frozen dataclasses.

Every problem raises :class:`ConfigError` whose message starts with the offending key path, e.g.
``account[1].upstream: unknown upstream 'simx' (known: sim)``. Unknown keys are errors (with a
"did you mean" suggestion) so that typos are never silently ignored. Relative file paths resolve
against the directory of the config file. See ``config/example.toml`` for every key.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar, cast

import phonenumbers

from gateway.passwords import HASH_FORMAT, parse_password_hash
from gateway.passwords import verify_password as _verify_password
from gateway.policy.keywords import Keywords
from gateway.smpp.constants import RETRYABLE_STATUSES, CommandStatus

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]
BlockMode = Literal["reject", "accept_and_fail"]
Traffic = Literal["marketing", "transactional"]
FooterMode = Literal["every", "first_in_days"]
LongMessages = Literal["split", "payload"]

#: SMPP 3.4 C-Octet String limits (§5.2), excluding the terminating NUL.
MAX_SYSTEM_ID = 15
MAX_PASSWORD = 8
MAX_SYSTEM_TYPE = 12

SECRET = "***"


class ConfigError(Exception):
    """An invalid configuration. ``key`` is the offending key path when there is one."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


# --------------------------------------------------------------------------------------------
# Dataclasses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Extra port for the TLS listener; None with tls_cert set means ``port`` itself speaks TLS.
    tls_port: int | None = None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True)
class StorageConfig:
    #: SQLite database file (absolute, or ``:memory:``).
    path: Path = Path("stopgate.db")


@dataclass(frozen=True, slots=True)
class NumbersConfig:
    #: Upper-case ISO 3166 alpha-2 region supported by phonenumbers.
    default_country: str = "GB"


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    format: LogFormat = "auto"
    level: LogLevel = "info"
    mask_numbers: bool = False
    log_message_text: bool = False


@dataclass(frozen=True, slots=True)
class SessionConfig:
    window: int = 64
    response_timeout: float = 10.0
    enquire_link_interval: float = 30.0
    bind_timeout: float = 10.0
    inactivity_timeout: float = 120.0
    incomplete_pdu_timeout: float = 10.0
    max_pdu_size: int = 65536
    shutdown_grace: float = 5.0
    max_connections: int = 5000


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    max_failed_binds: int = 5
    failed_bind_window: float = 60.0
    lockout_seconds: float = 60.0
    max_lockout_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class AdminConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8025
    #: Accepted bearer tokens, including the value of ``token_env`` if it was set at load time.
    tokens: tuple[str, ...] = field(default=(), repr=False)
    token_env: str = "STOPGATE_ADMIN_TOKEN"
    open_health: bool = True
    open_metrics: bool = True

    @property
    def listen(self) -> str:
        """``host:port`` as written in the config (IPv6 hosts in brackets)."""
        return _join_host_port(self.host, self.port)


@dataclass(frozen=True, slots=True)
class OptoutConfig:
    block_status: int = int(CommandStatus.STOPGATE_OPTED_OUT)
    block_mode: BlockMode = "reject"
    confirmation_window: float = 86400.0
    forward_keywords: bool = True
    feed_interval: float = 0.25
    reassembly_timeout: float = 60.0
    max_held_messages: int = 10000
    hold_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    name: str
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    interface_version: int = 0x34
    bind_timeout: float = 10.0
    reconnect_backoff_initial: float = 0.5
    reconnect_backoff_max: float = 30.0
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Effective window (``session.window`` unless overridden).
    window: int = 64


@dataclass(frozen=True, slots=True)
class KeywordsConfig:
    """Per-account keyword lists; None means "use the built-in default list"."""

    opt_out: tuple[str, ...] | None = None
    opt_in: tuple[str, ...] | None = None
    help: tuple[str, ...] | None = None
    opt_in_if_opted_out: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AccountConfig:
    system_id: str
    #: Exactly one of ``password`` / ``password_hash`` is set. Use :meth:`verify_password`.
    password: str | None = field(repr=False)
    password_hash: str | None = field(repr=False)
    upstream: str
    scope: str
    traffic: Traffic = "marketing"
    block_transactional: bool = False
    footer: str = "Reply STOP to opt out"
    footer_mode: FooterMode = "every"
    footer_days: int = 30
    long_messages: LongMessages = "split"
    confirmation: str = (
        "You have been unsubscribed and will receive no further messages. "
        "Reply START to resubscribe."
    )
    resubscribe_confirmation: str = "You are subscribed again. Reply STOP to opt out."
    help: str = "Reply STOP to opt out, START to resubscribe."
    max_sessions: int = 10
    campaign_tlv: int | None = None
    #: Effective opt-out settings: ``[optout]`` merged with this account's overrides.
    optout: OptoutConfig = field(default_factory=OptoutConfig)
    keywords: KeywordsConfig = field(default_factory=KeywordsConfig)

    def verify_password(self, password: str) -> bool:
        """Constant-time check of a bind password.

        CPU-heavy the first time a hash is checked against a given password: call from a thread.
        """
        return _verify_password(password, plain=self.password, hashed=self.password_hash)


@dataclass(frozen=True, slots=True)
class Config:
    listen: ListenConfig
    storage: StorageConfig
    numbers: NumbersConfig
    logging: LoggingConfig
    session: SessionConfig
    security: SecurityConfig
    admin: AdminConfig
    optout: OptoutConfig
    upstreams: dict[str, UpstreamConfig]
    accounts: dict[str, AccountConfig]
    source_path: Path | None = None

    def describe(self) -> str:
        """Human-readable summary (for ``stopgate check-config``); secrets are shown as ``***``."""
        return _describe(self)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


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
    root = _Table(data, "", _TOP_KEYS)
    base = Path(base_dir)

    listen = _parse_listen(root.table("listen"), base)
    storage = _parse_storage(root.table("storage"), base)
    numbers = _parse_numbers(root.table("numbers"))
    logging = _parse_logging(root.table("logging"))
    session = _parse_session(root.table("session"))
    security = _parse_security(root.table("security"))
    admin = _parse_admin(root.table("admin"), env)
    optout = _parse_optout(root.table("optout"), OptoutConfig())

    upstreams: dict[str, UpstreamConfig] = {}
    for i, raw in enumerate(root.array_of_tables("upstream")):
        up = _parse_upstream(_Table(raw, f"upstream[{i}]", _UPSTREAM_KEYS), base, session)
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
        acct = _parse_account(_Table(raw, f"account[{i}]", _ACCOUNT_KEYS), optout, upstreams)
        if acct.system_id in accounts:
            key = f"account[{i}].system_id"
            raise ConfigError(f"{key}: duplicate account system_id {acct.system_id!r}", key=key)
        accounts[acct.system_id] = acct
    if not accounts:
        raise ConfigError("account: at least one [[account]] table is required", key="account")

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
    )


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


_TOP_KEYS = frozenset(
    {"listen", "storage", "numbers", "logging", "session", "security", "admin", "optout"}
    | {"upstream", "account"}
)
_OPTOUT_KEYS = _names(OptoutConfig)
_UPSTREAM_KEYS = _names(UpstreamConfig)
_KEYWORD_KEYS = _names(KeywordsConfig)
_ACCOUNT_KEYS = (_names(AccountConfig) - {"optout"}) | _OPTOUT_KEYS
_ADMIN_KEYS = (_names(AdminConfig) - {"host", "port"}) | {"listen"}


def _parse_listen(t: _Table, base: Path) -> ListenConfig:
    d = ListenConfig()
    host = t.string("host", d.host, nonempty=True)
    port = t.integer("port", d.port, 0, 65535)  # 0: any free port (tests)
    tls_cert = t.file("tls_cert", base)
    tls_key = t.file("tls_key", base)
    tls_port = t.opt_port("tls_port")
    if (tls_cert is None) != (tls_key is None):
        missing = "tls_key" if tls_key is None else "tls_cert"
        t.fail(missing, "tls_cert and tls_key must be set together (both or neither)")
    if tls_port is not None and tls_cert is None:
        t.fail("tls_port", "set tls_cert and tls_key to enable the TLS listener")
    if tls_port is not None and tls_port == port:
        t.fail("tls_port", f"must differ from listen.port ({port}); omit it to serve TLS on port")
    return ListenConfig(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, tls_port=tls_port)


def _parse_storage(t: _Table, base: Path) -> StorageConfig:
    raw = t.string("path", "stopgate.db", nonempty=True)
    if raw == ":memory:":
        return StorageConfig(path=Path(raw))
    return StorageConfig(path=_resolve(raw, base))


def _parse_numbers(t: _Table) -> NumbersConfig:
    region = t.string("default_country", NumbersConfig().default_country, nonempty=True).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        t.fail(
            "default_country",
            f"unknown region {region!r} (expected an ISO 3166 alpha-2 code supported by "
            "phonenumbers, e.g. 'GB' or 'US')",
        )
    return NumbersConfig(default_country=region)


def _parse_logging(t: _Table) -> LoggingConfig:
    d = LoggingConfig()
    return LoggingConfig(
        format=cast(LogFormat, t.choice("format", d.format, ("auto", "json", "console"))),
        level=cast(LogLevel, t.choice("level", d.level, ("debug", "info", "warning", "error"))),
        mask_numbers=t.boolean("mask_numbers", d.mask_numbers),
        log_message_text=t.boolean("log_message_text", d.log_message_text),
    )


def _parse_session(t: _Table) -> SessionConfig:
    d = SessionConfig()
    return SessionConfig(
        window=t.integer("window", d.window, 1, 100_000),
        response_timeout=t.seconds("response_timeout", d.response_timeout),
        enquire_link_interval=t.seconds("enquire_link_interval", d.enquire_link_interval),
        bind_timeout=t.seconds("bind_timeout", d.bind_timeout),
        inactivity_timeout=t.seconds("inactivity_timeout", d.inactivity_timeout),
        incomplete_pdu_timeout=t.seconds("incomplete_pdu_timeout", d.incomplete_pdu_timeout),
        max_pdu_size=t.integer("max_pdu_size", d.max_pdu_size, 16, 0x7FFFFFFF),
        shutdown_grace=t.seconds("shutdown_grace", d.shutdown_grace, allow_zero=True),
        max_connections=t.integer("max_connections", d.max_connections, 1, 10_000_000),
    )


def _parse_security(t: _Table) -> SecurityConfig:
    d = SecurityConfig()
    cfg = SecurityConfig(
        max_failed_binds=t.integer("max_failed_binds", d.max_failed_binds, 1, 1_000_000),
        failed_bind_window=t.seconds("failed_bind_window", d.failed_bind_window),
        lockout_seconds=t.seconds("lockout_seconds", d.lockout_seconds),
        max_lockout_seconds=t.seconds("max_lockout_seconds", d.max_lockout_seconds),
    )
    if cfg.max_lockout_seconds < cfg.lockout_seconds:
        t.fail(
            "max_lockout_seconds",
            f"must be at least security.lockout_seconds ({cfg.lockout_seconds:g})",
        )
    return cfg


def _parse_admin(t: _Table, env: Mapping[str, str]) -> AdminConfig:
    d = AdminConfig()
    enabled = t.boolean("enabled", d.enabled)
    listen = t.string("listen", d.listen, nonempty=True)
    host, port = _split_host_port(t, "listen", listen)
    tokens: list[str] = []
    for i, token in enumerate(t.str_list("tokens", ()) or ()):
        if not token.strip():
            t.fail(f"tokens[{i}]", "token must not be empty")
        if token not in tokens:
            tokens.append(token)
    token_env = t.string("token_env", d.token_env)
    if token_env:
        from_env = env.get(token_env, "").strip()
        if from_env and from_env not in tokens:
            tokens.append(from_env)
    return AdminConfig(
        enabled=enabled,
        host=host,
        port=port,
        tokens=tuple(tokens),
        token_env=token_env,
        open_health=t.boolean("open_health", d.open_health),
        open_metrics=t.boolean("open_metrics", d.open_metrics),
    )


def _parse_optout(t: _Table, d: OptoutConfig) -> OptoutConfig:
    """Parse optout keys from ``t`` (the [optout] table or an account), defaulting to ``d``."""
    block_status = t.integer("block_status", d.block_status, 0, 0xFFFFFFFF, hex_=True)
    if block_status in RETRYABLE_STATUSES:
        name = CommandStatus(block_status).name
        t.fail(
            "block_status",
            f"{block_status:#x} ({name}) is a retryable status: clients would keep resubmitting "
            "messages to opted-out recipients; use a permanent error such as 0x400",
        )
    if block_status == CommandStatus.ESME_ROK:
        t.fail(
            "block_status",
            "0 is ESME_ROK (success) and would tell the client the message was sent; "
            "use a permanent error such as 0x400",
        )
    return OptoutConfig(
        block_status=block_status,
        block_mode=cast(
            BlockMode, t.choice("block_mode", d.block_mode, ("reject", "accept_and_fail"))
        ),
        confirmation_window=t.seconds(
            "confirmation_window", d.confirmation_window, allow_zero=True
        ),
        forward_keywords=t.boolean("forward_keywords", d.forward_keywords),
        feed_interval=t.seconds("feed_interval", d.feed_interval),
        reassembly_timeout=t.seconds("reassembly_timeout", d.reassembly_timeout),
        max_held_messages=t.integer("max_held_messages", d.max_held_messages, 1, 100_000_000),
        hold_timeout=t.seconds("hold_timeout", d.hold_timeout),
    )


def _parse_upstream(t: _Table, base: Path, session: SessionConfig) -> UpstreamConfig:
    name = t.required_str("name")
    host = t.required_str("host")
    port = t.required_port("port")
    system_id = t.smpp_str("system_id", MAX_SYSTEM_ID, required=True)
    password = t.smpp_str("password", MAX_PASSWORD, required=True, allow_empty=True)
    system_type = t.smpp_str("system_type", MAX_SYSTEM_TYPE, default="", allow_empty=True)
    interface_version = t.integer("interface_version", 0x34, 0, 0xFF, hex_=True)
    bind_timeout = t.seconds("bind_timeout", 10.0)
    backoff_initial = t.seconds("reconnect_backoff_initial", 0.5)
    backoff_max = t.seconds("reconnect_backoff_max", 30.0)
    if backoff_max < backoff_initial:
        t.fail(
            "reconnect_backoff_max",
            f"must be at least reconnect_backoff_initial ({backoff_initial:g})",
        )
    tls = t.boolean("tls", False)
    tls_ca = t.file("tls_ca", base)
    tls_cert = t.file("tls_cert", base)
    tls_key = t.file("tls_key", base)
    if (tls_cert is None) != (tls_key is None):
        missing = "tls_key" if tls_key is None else "tls_cert"
        t.fail(missing, "tls_cert and tls_key (client certificate) must be set together")
    if not tls:
        for key, value in (("tls_ca", tls_ca), ("tls_cert", tls_cert), ("tls_key", tls_key)):
            if value is not None:
                t.fail(key, "has no effect unless tls = true")
    window = t.integer("window", session.window, 1, 100_000)
    return UpstreamConfig(
        name=name,
        host=host,
        port=port,
        system_id=system_id,
        password=password,
        system_type=system_type,
        interface_version=interface_version,
        bind_timeout=bind_timeout,
        reconnect_backoff_initial=backoff_initial,
        reconnect_backoff_max=backoff_max,
        tls=tls,
        tls_ca=tls_ca,
        tls_cert=tls_cert,
        tls_key=tls_key,
        window=window,
    )


def _parse_account(
    t: _Table, optout_defaults: OptoutConfig, upstreams: Mapping[str, UpstreamConfig]
) -> AccountConfig:
    system_id = t.smpp_str("system_id", MAX_SYSTEM_ID, required=True)

    has_plain, has_hash = t.has("password"), t.has("password_hash")
    if has_plain and has_hash:
        t.fail("password", "'password' and 'password_hash' are both set; use only one")
    if not has_plain and not has_hash:
        t.fail("password", "one of 'password' or 'password_hash' is required")
    password: str | None = None
    password_hash: str | None = None
    if has_plain:
        password = t.smpp_str("password", MAX_PASSWORD, required=True)
    else:
        password_hash = t.required_str("password_hash")
        try:
            parse_password_hash(password_hash)
        except ValueError as exc:
            t.fail("password_hash", f"malformed hash: {exc} (expected {HASH_FORMAT!r})")

    upstream = t.required_str("upstream")
    if upstream not in upstreams:
        known = ", ".join(upstreams)
        t.fail("upstream", f"unknown upstream {upstream!r} (known: {known})")

    d = AccountConfig(
        system_id=system_id, password=None, password_hash=None, upstream=upstream, scope=system_id
    )
    campaign_tlv: int | None = None
    if t.has("campaign_tlv"):
        campaign_tlv = t.integer("campaign_tlv", 0, 1, 0xFFFF, hex_=True)

    return AccountConfig(
        system_id=system_id,
        password=password,
        password_hash=password_hash,
        upstream=upstream,
        scope=t.string("scope", system_id, nonempty=True),
        traffic=cast(Traffic, t.choice("traffic", d.traffic, ("marketing", "transactional"))),
        block_transactional=t.boolean("block_transactional", d.block_transactional),
        footer=t.string("footer", d.footer),
        footer_mode=cast(
            FooterMode, t.choice("footer_mode", d.footer_mode, ("every", "first_in_days"))
        ),
        footer_days=t.integer("footer_days", d.footer_days, 1, 36_500),
        long_messages=cast(
            LongMessages, t.choice("long_messages", d.long_messages, ("split", "payload"))
        ),
        confirmation=t.string("confirmation", d.confirmation),
        resubscribe_confirmation=t.string("resubscribe_confirmation", d.resubscribe_confirmation),
        help=t.string("help", d.help),
        max_sessions=t.integer("max_sessions", d.max_sessions, 1, 100_000),
        campaign_tlv=campaign_tlv,
        optout=_parse_optout(t, optout_defaults),
        keywords=_parse_keywords(t.table("keywords")),
    )


def _parse_keywords(t: _Table) -> KeywordsConfig:
    values: dict[str, tuple[str, ...] | None] = {}
    for key in ("opt_out", "opt_in", "help", "opt_in_if_opted_out"):
        words = t.str_list(key, None)
        if key == "opt_out" and words is not None and not words:
            t.fail(key, "must not be empty: recipients must always be able to opt out")
        values[key] = words
    kw = KeywordsConfig(**values)
    try:  # the policy layer's own validation (letters/digits present, no keyword in two lists)
        Keywords.from_lists(
            opt_out=kw.opt_out,
            opt_in=kw.opt_in,
            help=kw.help,
            opt_in_if_opted_out=kw.opt_in_if_opted_out,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{t.path}: {exc}", key=t.path) from None
    return kw


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")
_MISSING: Any = object()


def _show(value: object) -> str:
    """Render a bad value for an error message, TOML-style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _resolve(raw: str, base: Path) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    return Path(os.path.normpath(path))


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_host_port(t: _Table, key: str, text: str) -> tuple[str, int]:
    bad = f'expected "host:port" (IPv6 as "[::1]:8025"), got {text!r}'
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            t.fail(key, bad)
        host, port_text = text[1:end], text[end + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            t.fail(key, bad)
    if not host:
        t.fail(key, bad)
    if not (port_text.isascii() and port_text.isdigit() and 0 <= int(port_text) <= 65535):
        t.fail(key, f"port must be an integer 0-65535 (0: any free port), got {port_text!r} in {text!r}")
    return host, int(port_text)


class _Table:
    """A TOML table being validated, with its key path for error messages."""

    def __init__(self, data: object, path: str, known: frozenset[str]) -> None:
        if not isinstance(data, Mapping):
            where = path or "config"
            raise ConfigError(f"{where}: expected a table, got {_show(data)}", key=path or None)
        self.data: Mapping[str, Any] = data
        self.path = path
        for key in data:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                if hint:
                    self.fail(key, f"unknown key (did you mean {hint[0]!r}?)")
                self.fail(key, f"unknown key (known keys: {', '.join(sorted(known))})")

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        full = self.key(key)
        raise ConfigError(f"{full}: {message}", key=full)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: object) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                self.fail(key, "required key is missing")
            return default
        return value

    # --- sub-tables ---------------------------------------------------------------------------

    def table(self, key: str) -> _Table:
        known = {
            "listen": _names(ListenConfig),
            "storage": _names(StorageConfig),
            "numbers": _names(NumbersConfig),
            "logging": _names(LoggingConfig),
            "session": _names(SessionConfig),
            "security": _names(SecurityConfig),
            "admin": _ADMIN_KEYS,
            "optout": _OPTOUT_KEYS,
            "keywords": _KEYWORD_KEYS,
        }[key]
        return _Table(self._get(key, {}), self.key(key), known)

    def array_of_tables(self, key: str) -> list[object]:
        value = self._get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected an array of tables ([[{key}]]), got {_show(value)}")
        return cast(list[object], value)

    # --- scalars ------------------------------------------------------------------------------

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_show(value)}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int, *, hex_: bool = False) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            rng = f"{lo:#x}-{hi:#x}" if hex_ else f"{lo}-{hi}"
            self.fail(key, f"expected an integer {rng}, got {_show(value)}")
        return value

    def port(self, key: str, default: int) -> int:
        return self.integer(key, default, 1, 65535)

    def required_port(self, key: str) -> int:
        return self.integer(key, _MISSING, 1, 65535)

    def opt_port(self, key: str) -> int | None:
        return self.port(key, 0) if self.has(key) else None

    def seconds(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        value = self._get(key, default)
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value >= 0 if allow_zero else value > 0)
        )
        if not ok:
            what = "a number of seconds >= 0" if allow_zero else "a positive number of seconds"
            self.fail(key, f"expected {what}, got {_show(value)}")
        return float(value)

    def string(self, key: str, default: str, *, nonempty: bool = False) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_show(value)}")
        if nonempty and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def required_str(self, key: str) -> str:
        return self.string(key, _MISSING, nonempty=True)

    def smpp_str(
        self,
        key: str,
        max_len: int,
        *,
        required: bool = False,
        default: str = "",
        allow_empty: bool = False,
    ) -> str:
        """An SMPP C-Octet String field: printable ASCII, at most ``max_len`` characters."""
        value = self.string(key, _MISSING if required else default)
        if not value and not allow_empty:
            self.fail(key, "must not be empty")
        if not all(" " <= ch <= "~" for ch in value):
            self.fail(key, "must contain only printable ASCII characters (SMPP 3.4 C-Octet String)")
        if len(value) > max_len:
            self.fail(
                key,
                f"too long ({len(value)} characters; SMPP 3.4 allows at most {max_len})",
            )
        return value

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self._get(key, default)
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        expected = ", ".join(repr(o) for o in options)
        self.fail(key, f"expected one of {expected}, got {_show(value)}")

    def str_list(self, key: str, default: _T) -> tuple[str, ...] | _T:
        value = self._get(key, default)
        if value is default:
            return default
        if not isinstance(value, list):
            self.fail(key, f"expected an array of strings, got {_show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", f"expected a string, got {_show(item)}")
        return tuple(value)

    def file(self, key: str, base: Path) -> Path | None:
        if not self.has(key):
            return None
        path = _resolve(self.string(key, "", nonempty=True), base)
        if not path.is_file():
            self.fail(key, f"file not found: {path}")
        return path


# --------------------------------------------------------------------------------------------
# describe()
# --------------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}s"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "-"
    return str(value)


def _status_name(status: int) -> str:
    try:
        return f"{status:#x} ({CommandStatus(status).name})"
    except ValueError:
        return f"{status:#x}"


def _optout_items(o: OptoutConfig, base: OptoutConfig | None = None) -> list[str]:
    items = []
    for f in fields(o):
        value = getattr(o, f.name)
        if base is not None and value == getattr(base, f.name):
            continue
        shown = _status_name(value) if f.name == "block_status" else _fmt(value)
        items.append(f"{f.name}={shown}")
    return items


def _describe(c: Config) -> str:
    lines = [f"Stopgate configuration ({c.source_path or 'not loaded from a file'})"]
    ln = c.listen
    smpp = f"{_join_host_port(ln.host, ln.port)}"
    if ln.tls_enabled:
        if ln.tls_port is None:
            smpp += " (TLS)"
        else:
            smpp += f" (plain), {_join_host_port(ln.host, ln.tls_port)} (TLS)"
        smpp += f"; cert {ln.tls_cert}, key {ln.tls_key}"
    else:
        smpp += " (plain, no TLS)"
    lines.append(f"  listen:   {smpp}")
    lines.append(f"  storage:  {c.storage.path}")
    lines.append(f"  numbers:  default_country={c.numbers.default_country}")
    lg = c.logging
    lines.append(
        f"  logging:  format={lg.format} level={lg.level} mask_numbers={_fmt(lg.mask_numbers)} "
        f"log_message_text={_fmt(lg.log_message_text)}"
    )
    lines.append(
        "  session:  "
        + " ".join(f"{f.name}={_fmt(getattr(c.session, f.name))}" for f in fields(c.session))
    )
    lines.append(
        "  security: "
        + " ".join(f"{f.name}={_fmt(getattr(c.security, f.name))}" for f in fields(c.security))
    )
    ad = c.admin
    if ad.enabled:
        tokens = f"{len(ad.tokens)} token(s) {SECRET}" if ad.tokens else "no tokens (API locked)"
        lines.append(
            f"  admin:    http://{ad.listen} {tokens}; token_env={ad.token_env or '-'} "
            f"open_health={_fmt(ad.open_health)} open_metrics={_fmt(ad.open_metrics)}"
        )
    else:
        lines.append("  admin:    disabled")
    lines.append("  optout:   " + " ".join(_optout_items(c.optout)))

    lines.append(f"  upstreams ({len(c.upstreams)}):")
    for up in c.upstreams.values():
        tls = "no"
        if up.tls:
            tls = f"yes (ca={up.tls_ca or 'system'}, client cert={up.tls_cert or '-'})"
        lines.append(
            f"    {up.name}: {_join_host_port(up.host, up.port)} system_id={up.system_id!r} "
            f"password={SECRET} system_type={up.system_type!r} "
            f"interface_version={up.interface_version:#x} window={up.window} tls={tls}"
        )
        lines.append(
            f"      bind_timeout={_fmt(up.bind_timeout)} reconnect_backoff="
            f"{_fmt(up.reconnect_backoff_initial)}..{_fmt(up.reconnect_backoff_max)}"
        )

    lines.append(f"  accounts ({len(c.accounts)}):")
    for a in c.accounts.values():
        auth = "password" if a.password is not None else "password_hash"
        lines.append(
            f"    {a.system_id}: upstream={a.upstream} scope={a.scope!r} traffic={a.traffic} "
            f"{auth}={SECRET} max_sessions={a.max_sessions}"
        )
        footer = f"footer={a.footer!r} footer_mode={a.footer_mode}"
        if a.footer_mode == "first_in_days":
            footer += f" footer_days={a.footer_days}"
        lines.append(f"      {footer} long_messages={a.long_messages}")
        campaign = "service_type" if a.campaign_tlv is None else f"TLV {a.campaign_tlv:#06x}"
        lines.append(
            f"      block_transactional={_fmt(a.block_transactional)} campaign from {campaign}"
        )
        lines.append(f"      confirmation={a.confirmation!r}")
        lines.append(f"      resubscribe_confirmation={a.resubscribe_confirmation!r}")
        lines.append(f"      help={a.help!r}")
        overrides = _optout_items(a.optout, c.optout)
        if overrides:
            lines.append("      optout overrides: " + " ".join(overrides))
        kw = [
            f"{f.name}={list(getattr(a.keywords, f.name))}"
            for f in fields(a.keywords)
            if getattr(a.keywords, f.name) is not None
        ]
        if kw:
            lines.append("      keywords: " + " ".join(kw))
    return "\n".join(lines)
