"""What ``stopgate check-config`` prints: the configuration as understood, secrets masked."""

from __future__ import annotations

from dataclasses import fields

from gateway.config.schema import Config, OptoutConfig, join_host_port
from gateway.smpp.constants import CommandStatus

#: Shown instead of every password, password hash and admin token.
SECRET = "***"


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


def describe(c: Config) -> str:
    """Human-readable summary (for ``stopgate check-config``); secrets are shown as ``***``."""
    lines = [f"Stopgate configuration ({c.source_path or 'not loaded from a file'})"]
    ln = c.listen
    smpp = f"{join_host_port(ln.host, ln.port)}"
    if ln.tls_enabled:
        if ln.tls_port is None:
            smpp += " (TLS)"
        else:
            smpp += f" (plain), {join_host_port(ln.host, ln.tls_port)} (TLS)"
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
        tokens = f"{len(ad.credentials)} token(s) {SECRET}" if ad.credentials else "no tokens (API locked)"
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
            f"    {up.name}: {join_host_port(up.host, up.port)} system_id={up.system_id!r} "
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
    lines.extend(route_lines(c))
    return "\n".join(lines)


def route_lines(c: Config) -> list[str]:
    """The MT route table in order (or what applies without one), and the MO routes."""
    if c.routes:
        lines = ["  routes (first match wins):"]
        lines += [f"    {i + 1}. {rule.describe()}" for i, rule in enumerate(c.routes)]
    else:
        lines = ["  routes: none configured; each account's submits go to its own upstream"]
    for route in c.mo.routes:
        keyword = f" keyword {route.keyword}" if route.keyword else ""
        lines.append(f"  mo route: {route.number}{keyword} -> {route.account}")
    if c.mo.default_account:
        lines.append(f"  mo default account: {c.mo.default_account}")
    return lines
