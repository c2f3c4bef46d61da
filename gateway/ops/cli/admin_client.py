"""Commands that ask the running ``stopgate run`` through its admin API (what lives in its memory:
bind lockouts, the upstreams' binds), at the configured ``[admin] listen`` address with the
configured token (or ``--token`` / the token variable)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from gateway.config import Config
from gateway.ops.cli.errors import fail

token_option = click.option(
    "--token", default=None, help="Admin API token (default: the first of [admin] tokens)."
)


class Unreachable(Exception):
    """The admin API could not be asked (disabled, no token, not listening, or an error answer)."""


def admin_url(config: Config, path: str, query: dict[str, str] | None = None) -> str:
    host = config.admin.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1" if host != "::" else "::1"  # a wildcard listener answers on loopback
    if ":" in host:
        host = f"[{host}]"
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    return f"http://{host}:{config.admin.port}{path}{suffix}"


def ask_admin(
    config: Config, method: str, path: str, token: str | None, query: dict[str, str] | None = None
) -> Any:
    """The JSON answer of ``method path``; raises :class:`Unreachable` with a one-line reason."""
    if not config.admin.enabled:
        raise Unreachable("the admin API is disabled ([admin] enabled = false)")
    token = token or (config.admin.tokens[0] if config.admin.tokens else None)
    if not token:
        raise Unreachable(f"no admin token: set [admin] tokens, {config.admin.token_env} or pass --token")
    url = admin_url(config, path, query)
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        raise Unreachable(
            f"admin API at {config.admin.listen} answered {exc.code}: {detail or exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(
            f"cannot reach the admin API at {config.admin.listen} (is stopgate running?): {reason}"
        ) from None


def call_admin(
    config: Config, method: str, path: str, token: str | None, query: dict[str, str] | None = None
) -> Any:
    """:func:`ask_admin`, ending the command with the reason when it cannot answer."""
    try:
        return ask_admin(config, method, path, token, query)
    except Unreachable as exc:
        fail(str(exc))
