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

from gateway.config.integrations import AuditConfig, WebConfig, WebhookConfig
from gateway.config.passwords import verify_password as _verify_password
from gateway.config.texts import Replies
from gateway.policy.mo_routes import MoRoute
from gateway.policy.routes import RouteRule
from gateway.smpp.constants import CommandStatus

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]
BlockMode = Literal["reject", "accept_and_fail"]
Traffic = Literal["marketing", "transactional"]
FooterMode = Literal["every", "first_in_days"]
#: What an admin token may do: ``viewer`` reads, ``admin`` also changes the opt-out list.
AdminRole = Literal["viewer", "admin"]
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
class AdminToken:
    """One named admin token (``[[admin.token]]``); the audit log records ``api:<name>``."""

    name: str
    role: AdminRole
    #: Exactly one of ``token`` / ``token_hash`` is set. Use :meth:`verify`.
    token: str | None = field(default=None, repr=False)
    token_hash: str | None = field(default=None, repr=False)

    def verify(self, given: str) -> bool:
        """Constant-time check of a presented token (PBKDF2 for a hash: call from a thread)."""
        return _verify_password(given, plain=self.token, hashed=self.token_hash)

    @property
    def hashed(self) -> bool:
        return self.token_hash is not None


@dataclass(frozen=True, slots=True)
class AdminConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8025
    #: Unnamed bearer tokens (role admin, named ``token1``..``tokenN`` in this order); the value of
    #: ``token_env`` alone if it was set at load time (it replaces every token of the file).
    tokens: tuple[str, ...] = field(default=(), repr=False)
    #: Named tokens with a role, from ``[[admin.token]]`` tables.
    named_tokens: tuple[AdminToken, ...] = field(default=(), repr=False)
    token_env: str = "STOPGATE_ADMIN_TOKEN"
    open_health: bool = True
    open_metrics: bool = True

    @property
    def listen(self) -> str:
        """``host:port`` as written in the config (IPv6 hosts in brackets)."""
        return join_host_port(self.host, self.port)

    @property
    def credentials(self) -> tuple[AdminToken, ...]:
        """Every accepted token: the unnamed ``tokens`` as admins ``token1``.., then the named ones."""
        unnamed = tuple(
            AdminToken(name=f"token{i + 1}", role="admin", token=token) for i, token in enumerate(self.tokens)
        )
        return unnamed + self.named_tokens

    def identify(self, given: str) -> AdminToken | None:
        """The token ``given`` matches, or None; every plain token is compared (constant time).

        CPU-heavy the first time a hashed token is checked against a given value: call it from a
        worker thread when :attr:`credentials` holds a hash.
        """
        found = None
        for credential in self.credentials:
            if credential.verify(given) and found is None:
                found = credential
        return found


@dataclass(frozen=True, slots=True)
class OptoutConfig:
    #: ESME_RSUBMITFAIL: a standard status every client we checked (Kannel, smpplib, aiosmpplib, node
    #: smpp, Jasmin) treats as a permanent failure; the vendor code 0x400 (STOPGATE_OPTED_OUT) makes
    #: strict parsers (aiosmpplib) drop the connection. docs/INTEROP.md has the table.
    block_status: int = int(CommandStatus.ESME_RSUBMITFAIL)
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
    #: The form of the message ids Stopgate issues itself for messages to this SMSC ("decimal" or
    #: "hex"): the SMSC's own, so clients that parse ids as numbers read both (docs/INTEROP.md).
    message_ids: str = "decimal"
    #: Seconds between TCP connect probes while no session of this upstream is bound (0: none).
    probe_interval: float = 15.0
    #: Pooled mode (``[[route]]`` configured): binds Stopgate holds to this SMSC, and their mode
    #: ("transceiver", "transmitter" or "receiver").
    binds: int = 1
    bind_mode: str = "transceiver"
    #: Submits per second shared by the binds (None: unlimited); how long one may wait for its turn.
    max_tps: float | None = None
    max_tps_wait: float = 1.0
    #: Consecutive SMSC errors or timeouts that open the circuit; seconds before it is probed again.
    breaker_failures: int = 5
    breaker_cooldown: float = 5.0


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
    #: Marketing only to numbers with a live consent record in the scope (issue 16).
    require_consent: bool = False
    #: Text sent to a number opted out on the web page (empty: none), from ``web_confirmation_from``.
    web_confirmation: str = ""
    web_confirmation_from: str = ""
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
    #: Languages whose built-in keywords this account recognises (gateway/policy/keywords.py); the
    #: first is the language of ``confirmation``, ``resubscribe_confirmation`` and ``help``.
    keyword_languages: tuple[str, ...] = ("en",)
    #: The replies in each of ``keyword_languages``, worked out at load time: ``[account.replies.<lang>]``
    #: overrides, else the built-in defaults true for this account's traffic (see gateway/config/texts.py).
    replies: tuple[tuple[str, Replies], ...] = ()
    #: Effective opt-out settings: ``[optout]`` merged with this account's overrides.
    optout: OptoutConfig = field(default_factory=OptoutConfig)
    keywords: KeywordsConfig = field(default_factory=KeywordsConfig)
    #: The numbers (short codes, long numbers; with a keyword for a shared short code) whose MOs
    #: belong to this account, whatever bind they arrive on (``numbers = [...]``).
    numbers: tuple[MoRoute, ...] = ()

    def replies_in(self, language: str | None) -> Replies:
        """The replies for an MO keyword in ``language`` (the account's own texts if none or unknown)."""
        for lang, replies in self.replies:
            if lang == language:
                return replies
        return Replies(self.confirmation, self.resubscribe_confirmation, self.help)

    def verify_password(self, password: str) -> bool:
        """Constant-time check of a bind password.

        CPU-heavy the first time a hash is checked against a given password: call from a thread.
        """
        return _verify_password(password, plain=self.password, hashed=self.password_hash)


@dataclass(frozen=True, slots=True)
class MoConfig:
    """MO routing: ``[[mo_route]]`` rules, then every account's ``numbers``; ``[mo] default_account``."""

    routes: tuple[MoRoute, ...] = ()
    #: Where an MO no rule matches goes; None: to the account of the bind it arrived on.
    default_account: str | None = None
    #: Route receipts by message id for accounts sharing an upstream (costs every such submit its
    #: response decoded and its id kept: off by default).
    route_receipts: bool = False
    #: Seconds a message id is remembered to route its receipts.
    receipt_ttl: float = 259200.0


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
    webhooks: tuple[WebhookConfig, ...] = ()
    audit: AuditConfig = field(default_factory=AuditConfig)
    web: WebConfig = field(default_factory=WebConfig)
    mo: MoConfig = field(default_factory=MoConfig)
    #: The MT route table (``[[route]]``, in order); empty: each account's own upstream.
    routes: tuple[RouteRule, ...] = ()
