"""``[[webhook]]`` (signed event delivery to CRMs) and ``[audit]`` (retention of MO text): issue 16.

A webhook names the event types it wants; its ``secret`` signs every request, and while a secret is
being rotated ``previous_secret`` signs it too (receivers accept either ``v1`` value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.config.errors import ConfigError
from gateway.config.reader import Errors, Table, keys_of

#: Event types a webhook may ask for (``gateway.store.EventType`` values; config stays below store).
WEBHOOK_EVENTS = (
    "opt_out",
    "opt_in",
    "help",
    "blocked",
    "confirmation_sent",
    "admin_add",
    "admin_remove",
    "import",
    "consent",
    "redacted",
    "optout_reason",
)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    #: Names the webhook's durable cursor in the store (default: the URL).
    name: str
    url: str
    events: tuple[str, ...] = ("opt_out", "opt_in")
    secret: str = field(default="", repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    #: Seconds to wait for the receiver's answer.
    timeout: float = 10.0
    #: Seconds of retries (exponential back-off) before an event is dead-lettered.
    retry_for: float = 86400.0
    #: Back-off bounds, seconds.
    retry_min: float = 1.0
    retry_max: float = 600.0


@dataclass(frozen=True, slots=True)
class AuditConfig:
    #: MO text older than this many days is redacted automatically; 0 keeps it.
    text_retention_days: int = 0
    #: How often the retention task runs, seconds.
    retention_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class WebConfig:
    """``[web]``: the public opt-out page, a listener of its own (never the admin API's)."""

    #: The base of the links in footers (``https://stop.example.com``); empty: the page is off.
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8026
    #: Days an opt-out link keeps working after the message was sent.
    token_days: int = 90
    #: Requests per minute one IP address may make before getting 429.
    rate_limit: int = 30

    @property
    def enabled(self) -> bool:
        return bool(self.public_url)


WEBHOOK_KEYS = keys_of(WebhookConfig)
WEB_KEYS = (keys_of(WebConfig) - {"host", "port"}) | {"listen"}
AUDIT_KEYS = keys_of(AuditConfig)


def parse_webhook(t: Table) -> WebhookConfig:
    d = WebhookConfig(name="", url="")
    url = t.required_str("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        t.fail("url", f"expected an http:// or https:// URL, got {url!r}")
    events = t.str_list("events", d.events)
    for i, name in enumerate(events):
        if name not in WEBHOOK_EVENTS:
            t.fail(f"events[{i}]", f"unknown event type {name!r} (known: {', '.join(WEBHOOK_EVENTS)})")
    if not events:
        t.fail("events", "must name at least one event type")
    secret = t.required_str("secret")
    previous = t.string("previous_secret", "") or None
    retry_min = t.seconds("retry_min", d.retry_min)
    retry_max = t.seconds("retry_max", d.retry_max)
    if retry_max < retry_min:
        t.fail("retry_max", f"must be at least retry_min ({retry_min})")
    return WebhookConfig(
        name=t.string("name", url, nonempty=True),
        url=url,
        events=tuple(dict.fromkeys(events)),
        secret=secret,
        previous_secret=previous,
        timeout=t.seconds("timeout", d.timeout),
        retry_for=t.seconds("retry_for", d.retry_for),
        retry_min=retry_min,
        retry_max=retry_max,
    )


def parse_webhooks(raw: list[object], errors: Errors) -> tuple[WebhookConfig, ...]:
    hooks: dict[str, WebhookConfig] = {}
    for i, item in enumerate(raw):
        hook = parse_webhook(Table(item, f"webhook[{i}]", WEBHOOK_KEYS, errors))
        if hook.name in hooks:
            key = f"webhook[{i}].name"
            raise ConfigError(f"{key}: duplicate webhook name {hook.name!r}", key=key)
        hooks[hook.name] = hook
    return tuple(hooks.values())


def parse_audit(t: Table) -> AuditConfig:
    d = AuditConfig()
    return AuditConfig(
        text_retention_days=t.integer("text_retention_days", d.text_retention_days, 0, 36500),
        retention_interval=t.seconds("retention_interval", d.retention_interval),
    )


def parse_web(t: Table) -> WebConfig:
    d = WebConfig()
    public_url = t.string("public_url", d.public_url).rstrip("/")
    if public_url:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            t.fail("public_url", f"expected a base URL like https://stop.example.com, got {public_url!r}")
    listen = t.string("listen", f"{d.host}:{d.port}", nonempty=True)
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        t.fail("listen", f"expected host:port, got {listen!r}")
    return WebConfig(
        public_url=public_url,
        host=host,
        port=int(port_text),
        token_days=t.integer("token_days", d.token_days, 1, 3650),
        rate_limit=t.integer("rate_limit", d.rate_limit, 1, 100_000),
    )
