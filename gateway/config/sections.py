"""Parsers of the single-table sections: ``[listen]``, ``[storage]``, ``[numbers]``, ``[logging]``,
``[session]``, ``[security]``, ``[admin]`` and ``[optout]`` (whose keys an ``[[account]]`` may repeat).

Each parser reads one :class:`~gateway.config.reader.Table` whose allowed keys are the ``*_KEYS`` set
next to it, and checks what a single key cannot (TLS certificate and key set together, lockout bounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

import phonenumbers

from gateway.config.passwords import parse_password_hash
from gateway.config.reader import Table, keys_of, resolve_path
from gateway.config.schema import (
    AdminConfig,
    AdminRole,
    AdminToken,
    BlockMode,
    ListenConfig,
    LogFormat,
    LoggingConfig,
    LogLevel,
    NumbersConfig,
    OptoutConfig,
    SecurityConfig,
    SessionConfig,
    StorageConfig,
)
from gateway.smpp.constants import RETRYABLE_STATUSES, CommandStatus

LISTEN_KEYS = keys_of(ListenConfig)
STORAGE_KEYS = keys_of(StorageConfig)
NUMBERS_KEYS = keys_of(NumbersConfig)
LOGGING_KEYS = keys_of(LoggingConfig)
SESSION_KEYS = keys_of(SessionConfig)
SECURITY_KEYS = keys_of(SecurityConfig)
#: ``[admin]`` spells host and port as one ``listen = "host:port"``, and its named tokens as
#: ``[[admin.token]]`` tables.
ADMIN_KEYS = (keys_of(AdminConfig) - {"host", "port", "named_tokens"}) | {"listen", "token"}
ADMIN_TOKEN_KEYS = keys_of(AdminToken)
OPTOUT_KEYS = keys_of(OptoutConfig)


def parse_listen(t: Table, base: Path) -> ListenConfig:
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
    workers = t.integer("workers", d.workers, 1, 256)
    if workers > 1 and port == 0:
        t.fail("workers", "several workers share one fixed port: set listen.port")
    return ListenConfig(
        host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, tls_port=tls_port, workers=workers
    )


def parse_storage(t: Table, base: Path) -> StorageConfig:
    raw = t.string("path", "stopgate.db", nonempty=True)
    # SQLite's in-memory database would pass for a relative file name here: the store would create a
    # file called ":memory:" and fail enabling WAL on it. Opt-outs must survive a restart and be seen
    # by the CLI, which opens the same file, so there is no in-memory mode to offer.
    if raw.strip() == ":memory:":
        t.fail(
            "path",
            "':memory:' is not supported: opt-outs must survive restarts and be shared with the "
            "stopgate CLI; give a database file instead, e.g. \"stopgate.db\"",
        )
    url: str | None = None
    if t.has("url"):
        url = t.string("url", "", nonempty=True).strip()
        if not url.startswith(("postgresql://", "postgres://")):
            t.fail("url", f"expected a postgresql://user@host/database URL, got {url!r}")
    return StorageConfig(path=resolve_path(raw, base), url=url)


def parse_numbers(t: Table) -> NumbersConfig:
    region = t.string("default_country", NumbersConfig().default_country, nonempty=True).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        t.fail(
            "default_country",
            f"unknown region {region!r} (expected an ISO 3166 alpha-2 code supported by "
            "phonenumbers, e.g. 'GB' or 'US')",
        )
    return NumbersConfig(default_country=region)


def parse_logging(t: Table) -> LoggingConfig:
    d = LoggingConfig()
    return LoggingConfig(
        format=cast(LogFormat, t.choice("format", d.format, ("auto", "json", "console"))),
        level=cast(LogLevel, t.choice("level", d.level, ("debug", "info", "warning", "error"))),
        mask_numbers=t.boolean("mask_numbers", d.mask_numbers),
        log_message_text=t.boolean("log_message_text", d.log_message_text),
    )


def parse_session(t: Table) -> SessionConfig:
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


def parse_security(t: Table) -> SecurityConfig:
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


def parse_admin(t: Table, env: Mapping[str, str]) -> AdminConfig:
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
    named: list[AdminToken] = []
    for i, raw in enumerate(t.array_of_tables("token")):
        named.append(_parse_admin_token(Table(raw, t.key(f"token[{i}]"), ADMIN_TOKEN_KEYS)))
    names = [f"token{i + 1}" for i in range(len(tokens))]
    for i, tok in enumerate(named):
        if tok.name in names:
            t.fail(f"token[{i}].name", f"duplicate token name {tok.name!r} (token1..N name the tokens list)")
        names.append(tok.name)
        if tok.token is not None and (tok.token in tokens or any(o.token == tok.token for o in named[:i])):
            t.fail(f"token[{i}].token", "the same token value is configured twice")
    if token_env:
        from_env = env.get(token_env, "").strip()
        if from_env:
            # Replaces, not adds: setting the variable must retire every token written in the file,
            # named ones included (the example's "change-me" in a container, say), not leave it
            # working beside the new one.
            tokens = [from_env]
            named = []
    return AdminConfig(
        enabled=enabled,
        host=host,
        port=port,
        tokens=tuple(tokens),
        named_tokens=tuple(named),
        token_env=token_env,
        open_health=t.boolean("open_health", d.open_health),
        open_metrics=t.boolean("open_metrics", d.open_metrics),
    )


def _parse_admin_token(t: Table) -> AdminToken:
    """One ``[[admin.token]]``: a name, a role and exactly one of ``token`` / ``token_hash``."""
    name = t.required_str("name")
    if not all(c.isalnum() or c in "-_." for c in name) or len(name) > 64:
        t.fail("name", "use at most 64 letters, digits, '-', '_' or '.' (it is written to the audit log)")
    role = cast(AdminRole, t.choice("role", "viewer", ("viewer", "admin")))
    token = t.string("token", "", nonempty=True) if t.has("token") else None
    token_hash = t.string("token_hash", "", nonempty=True) if t.has("token_hash") else None
    if (token is None) == (token_hash is None):
        t.fail("token", "set exactly one of token or token_hash (stopgate hash-password makes a hash)")
    if token_hash is not None:
        try:
            parse_password_hash(token_hash)
        except ValueError as exc:
            t.fail("token_hash", str(exc))
    return AdminToken(name=name, role=role, token=token, token_hash=token_hash)


def parse_optout(t: Table, d: OptoutConfig) -> OptoutConfig:
    """Parse optout keys from ``t`` (the [optout] table or an account), defaulting to ``d``."""
    block_status = t.integer("block_status", d.block_status, 0, 0xFFFFFFFF, hex_=True)
    if block_status in RETRYABLE_STATUSES:
        name = CommandStatus(block_status).name
        t.fail(
            "block_status",
            f"{block_status:#x} ({name}) is a retryable status: clients would keep resubmitting "
            "messages to opted-out recipients; use a permanent error such as 0x45 "
            "(ESME_RSUBMITFAIL) or 0x400",
        )
    if block_status == CommandStatus.ESME_ROK:
        t.fail(
            "block_status",
            "0 is ESME_ROK (success) and would tell the client the message was sent; "
            "use a permanent error such as 0x45 (ESME_RSUBMITFAIL) or 0x400",
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
        max_feed_lag=t.seconds("max_feed_lag", d.max_feed_lag, allow_zero=True),
        reassembly_timeout=t.seconds("reassembly_timeout", d.reassembly_timeout),
        max_held_messages=t.integer("max_held_messages", d.max_held_messages, 1, 100_000_000),
        hold_timeout=t.seconds("hold_timeout", d.hold_timeout),
    )


def _split_host_port(t: Table, key: str, text: str) -> tuple[str, int]:
    """``admin.listen`` as (host, port); an IPv6 host is written in brackets."""
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

