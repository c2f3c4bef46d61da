"""Who may call a route: bearer tokens, compared in constant time, read from the config on every request.

``/v1`` needs ``Authorization: Bearer <token>`` matching one of ``admin.tokens``; the health routes and
``/metrics`` are open unless ``open_health`` / ``open_metrics`` is false; the documentation is open.
A failed authentication is logged (the client address and why, never the token presented) and
counted per address (:mod:`.ratelimit`): past the limit the address is answered 429.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

import structlog
from starlette.requests import Request
from starlette.responses import Response

from gateway.config import AdminConfig
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import Endpoint, client_address, error_response

log = structlog.get_logger("stopgate.admin")


class Access(StrEnum):
    """Which switch decides whether a route needs a token."""

    #: Open unless ``admin.open_health`` is false.
    HEALTH = "health"
    #: Open unless ``admin.open_metrics`` is false.
    METRICS = "metrics"
    #: Always needs a token.
    TOKEN = "token"
    #: Never needs one (the API's own documentation).
    OPEN = "open"


def needs_token(access: Access, admin: AdminConfig) -> bool:
    if access is Access.HEALTH:
        return not admin.open_health
    if access is Access.METRICS:
        return not admin.open_metrics
    return access is Access.TOKEN


def authenticate(request: Request, tokens: tuple[str, ...]) -> str | None:
    """``api:tokenN`` for the configured token presented (every one compared in constant time)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    given = value.strip().encode("utf-8", "surrogateescape")
    found = None
    for i, token in enumerate(tokens):
        if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
            found = f"api:token{i + 1}"
    return found


def protect(context: AdminContext, access: Access, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` behind the token check ``access`` asks for; the caller is ``request.state.operator``."""
    if access is Access.OPEN:
        return endpoint

    async def guarded(request: Request) -> Response:
        admin = context.config().admin
        if needs_token(access, admin):
            client = client_address(request)
            wait = context.auth_failures.retry_after(client)
            if wait is not None:
                return error_response(
                    429,
                    f"too many failed authentications from this address; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            who = authenticate(request, admin.tokens)
            if who is None:
                message = (
                    "missing or invalid bearer token"
                    if admin.tokens
                    else "no admin tokens are configured (set admin.tokens or $"
                    f"{admin.token_env or 'STOPGATE_ADMIN_TOKEN'})"
                )
                limited = context.auth_failures.failed(client)
                log.warning(
                    "admin authentication failed",
                    client=client,
                    method=request.method,
                    path=request.url.path,
                    presented=_presented(request),
                    rate_limited=limited,
                )
                return error_response(401, message, headers={"WWW-Authenticate": 'Bearer realm="stopgate"'})
            request.state.operator = who
        return await endpoint(request)

    return guarded


def _presented(request: Request) -> str:
    """What kind of credential came (for the log line: never its value)."""
    header = request.headers.get("authorization")
    if header is None:
        return "none"
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return "not a bearer token"
    return "wrong token" if value.strip() else "empty bearer token"
