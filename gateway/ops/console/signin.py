"""Signing in (an admin token exchanged for a session cookie) and out.

Wrong tokens are refused and counted per client address; after :data:`~.sessions.MAX_FAILURES` in
the window the address gets 429 with ``Retry-After`` until the oldest failure ages out, whatever
token it sends. The sign-in form carries its own CSRF value (a double-submit cookie), so another
site cannot sign a browser in to a session of its choosing.
"""

from __future__ import annotations

import hmac
import math
import secrets

import anyio
import structlog
from starlette.requests import Request
from starlette.responses import Response

from gateway.config import AdminConfig, AdminToken
from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.web import (
    BASE,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    PageError,
    checked_form,
    clear_session_cookie,
    client_address,
    read_form,
    redirect,
    render,
    secure,
    set_session_cookie,
)

log = structlog.get_logger("stopgate.console")


async def identify(admin: AdminConfig, given: str) -> AdminToken | None:
    """The token ``given`` matches; PBKDF2 hashes are checked on a worker thread."""
    if any(c.hashed for c in admin.credentials):
        return await anyio.to_thread.run_sync(admin.identify, given)
    return admin.identify(given)


def _next_page(value: str | None) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    if value and value.startswith(f"{BASE}/") and not value.startswith("//") and "\\" not in value:
        return value[len(BASE) + 1 :]
    return ""


def _form(
    context: ConsoleContext,
    request: Request,
    *,
    status: int = 200,
    message: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    value = secrets.token_urlsafe(24)
    response = render(
        context,
        "sign_in.html",
        signed=None,
        status=status,
        headers=headers,
        csrf=value,
        message=message,
        next=request.query_params.get("next", ""),
        no_tokens=not context.config().admin.credentials,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        value,
        max_age=3600,
        path=BASE,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )
    return response


async def sign_in_page(context: ConsoleContext, request: Request) -> Response:
    signed = context.sessions.find(request.cookies.get(SESSION_COOKIE), context.config().admin)
    if signed is not None:
        return redirect("")
    return _form(context, request)


async def sign_in(context: ConsoleContext, request: Request) -> Response:
    client = client_address(request)
    wait = context.limiter.wait(client)
    if wait > 0:
        log.warning("console sign-in refused: too many wrong tokens", client=client)
        seconds = math.ceil(wait)
        return _form(
            context,
            request,
            status=429,
            message=f"Too many wrong tokens from your address. Try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )
    try:
        form = await read_form(request)
    except PageError as exc:
        return _form(context, request, status=exc.status, message=exc.message)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        return _form(context, request, status=403, message="The form expired; please sign in again.")
    token = await identify(context.config().admin, form.get("token", "").strip())
    if token is None:
        context.limiter.failed(client)
        log.warning("console sign-in refused: wrong token", client=client)
        return _form(context, request, status=401, message="That token is not valid.")
    context.limiter.succeeded(client)
    sid = context.sessions.start(token)
    log.info("console sign-in", operator=f"api:{token.name}", role=token.role, client=client)
    response = redirect(_next_page(form.get("next")))
    set_session_cookie(response, request, sid)
    response.delete_cookie(SIGNIN_COOKIE, path=BASE)
    return response


async def sign_out(context: ConsoleContext, request: Request) -> Response:
    signed = context.sessions.find(request.cookies.get(SESSION_COOKIE), context.config().admin)
    if signed is not None:
        try:
            await checked_form(request, signed)
        except PageError as exc:
            return render(context, "error.html", signed=signed, status=exc.status, message=exc.message)
        context.sessions.end(signed.id)
        log.info("console sign-out", operator=signed.operator)
    response = redirect("sign-in")
    clear_session_cookie(response, request)
    return response
