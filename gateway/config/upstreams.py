"""``[[upstream]]``: the SMSCs Stopgate binds to on behalf of its accounts."""

from __future__ import annotations

from pathlib import Path

from gateway.config.reader import Table, keys_of
from gateway.config.schema import (
    MAX_PASSWORD,
    MAX_SYSTEM_ID,
    MAX_SYSTEM_TYPE,
    SessionConfig,
    UpstreamConfig,
)

UPSTREAM_KEYS = keys_of(UpstreamConfig)


def parse_upstream(t: Table, base: Path, session: SessionConfig) -> UpstreamConfig:
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
    message_ids = t.choice("message_ids", "decimal", ("decimal", "hex"))
    probe_interval = t.seconds("probe_interval", 15.0, allow_zero=True)
    binds = t.integer("binds", 1, 1, 64)
    bind_mode = t.choice("bind_mode", "transceiver", ("transceiver", "transmitter", "receiver"))
    max_tps: float | None = None
    if t.has("max_tps"):
        raw = t.data.get("max_tps")
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < float("inf"):
            t.fail("max_tps", f"expected a positive number of submits per second, got {raw!r}")
        max_tps = float(raw)
    max_tps_wait = t.seconds("max_tps_wait", 1.0, allow_zero=True)
    breaker_failures = t.integer("breaker_failures", 5, 1, 1_000_000)
    breaker_cooldown = t.seconds("breaker_cooldown", 5.0)
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
        message_ids=message_ids,
        probe_interval=probe_interval,
        binds=binds,
        bind_mode=bind_mode,
        max_tps=max_tps,
        max_tps_wait=max_tps_wait,
        breaker_failures=breaker_failures,
        breaker_cooldown=breaker_cooldown,
    )

