"""Scopes: which suppression list an operator's request (CLI option, admin API parameter) acts on.

A scope is a name shared by the accounts whose recipients opt out together (``[[account]].scope``,
by default the account's ``system_id``). Operators may omit the scope when only one is configured.
"""

from __future__ import annotations

from gateway.config.schema import Config


class ScopeError(ValueError):
    """A requested scope is not configured, or none was given and several are. The message says
    which scopes there are."""


def configured_scopes(config: Config) -> list[str]:
    """Every scope of the configured accounts, sorted."""
    return sorted({account.scope for account in config.accounts.values()})


def resolve_scope(config: Config, requested: str | None, *, choose: str = "choose one") -> str:
    """The scope to act on: ``requested`` if it is configured, or the only one when it is None.

    Raises :class:`ScopeError` for an unknown scope, or for None when several are configured;
    ``choose`` ends that message and tells the operator how to pick one (``"choose one with
    --scope"``).
    """
    scopes = configured_scopes(config)
    if requested is None:
        if len(scopes) == 1:
            return scopes[0]
        raise ScopeError(f"several scopes are configured ({', '.join(scopes)}): {choose}")
    return check_scope(config, requested)


def check_scope(config: Config, scope: str) -> str:
    """``scope`` itself if it is configured; raises :class:`ScopeError` if not."""
    scopes = configured_scopes(config)
    if scope not in scopes:
        raise ScopeError(f"unknown scope {scope!r} (configured scopes: {', '.join(scopes)})")
    return scope


def scope_filter(config: Config, requested: str | None) -> str | None:
    """For listings: ``requested`` if it is configured, None (every scope) when it is None."""
    return None if requested is None else check_scope(config, requested)
