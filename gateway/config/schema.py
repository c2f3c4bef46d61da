"""The configuration as frozen dataclasses: one class per TOML section, defaults as field defaults.

:mod:`gateway.config.load` builds a :class:`Config` from a TOML file; everything else reads these
classes. A field's default here is the default of the matching key (``config/example.toml`` documents
them), except where a section parser derives it (``scope`` from ``system_id``, an upstream's
``window`` from ``session.window``, an account's ``optout`` from ``[optout]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.config.passwords import verify_password as _verify_password
from gateway.smpp.constants import CommandStatus

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


def join_host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets (``[::1]:8025``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 2775
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Extra port for the TLS listener; None with tls_cert set means ``port`` itself speaks TLS.
    tls_port: int | None = None
    #: Processes sharing the SMPP port (SO_REUSEPORT), under a supervisor (``stopgate run --workers``).
    workers: int = 1

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None


@dataclass(frozen=True, slots=True)
class StorageConfig:
    #: SQLite database file (absolute). Never ``:memory:``: the proxy, the CLI and a restarted
    #: proxy share the opt-outs through this file.
    path: Path = Path("stopgate.db")
    #: PostgreSQL connection URL (``postgresql://user@host/db``): when set, the store is PostgreSQL,
    #: shared by a fleet of processes, and ``path`` is not used. None: the SQLite file at ``path``.
    url: str | None = None


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
    #: Accepted bearer tokens: the value of ``token_env`` alone if it was set at load time.
    tokens: tuple[str, ...] = field(default=(), repr=False)
    token_env: str = "STOPGATE_ADMIN_TOKEN"
    open_health: bool = True
    open_metrics: bool = True

    @property
    def listen(self) -> str:
        """``host:port`` as written in the config (IPv6 hosts in brackets)."""
        return join_host_port(self.host, self.port)


@dataclass(frozen=True, slots=True)
class OptoutConfig:
    block_status: int = int(CommandStatus.STOPGATE_OPTED_OUT)
    block_mode: BlockMode = "reject"
    confirmation_window: float = 86400.0
    forward_keywords: bool = True
    feed_interval: float = 0.25
    #: Refuse marketing (temporary error) while the change feed is this many seconds behind: another
    #: process may have recorded an opt-out this one cannot see. 0: never.
    max_feed_lag: float = 5.0
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
    #: Max outstanding requests towards this SMSC (``session.window`` unless overridden).
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
    """The whole file: one field per section, upstreams and accounts by name / ``system_id``."""

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
