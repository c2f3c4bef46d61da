"""The HTTP side every console page shares: forms, cookies, CSRF, security headers, rendering.

Pages are HTML rendered on the server; the only script is the vendored chart library and the few
lines that draw with it, loaded from ``/ui/static`` (the Content-Security-Policy allows nothing
else: no inline script, no other origin).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.sessions import MAX_AGE, Signed
from gateway.store import StoreError

log = structlog.get_logger("stopgate.console")

#: Where the console is mounted on the admin listener.
BASE = "/ui"
SESSION_COOKIE = "stopgate_session"
#: The sign-in form's own CSRF value (there is no session yet to hold it): a double-submit cookie.
SIGNIN_COOKIE = "stopgate_signin"
MAX_FORM = 16 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

#: A page handler: the context, the request and the signed-in session.
Page = Callable[[ConsoleContext, Request, Signed], Awaitable[Response]]


class PageError(Exception):
    """Answered as the error page with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind the console's forms send)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise PageError(413, f"form larger than {MAX_FORM} bytes")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise PageError(400, "the form is not UTF-8") from None


def check_csrf(form: dict[str, str], expected: str) -> None:
    if not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        raise PageError(403, "the form expired or did not come from this console; reload the page and retry")


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, sid: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(MAX_AGE),
        path=BASE,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=BASE, httponly=True, samesite="strict", secure=secure(request)
    )


def redirect(path: str, **query: str | int | None) -> RedirectResponse:
    """A 303 to ``/ui/<path>`` (after a POST the browser then GETs)."""
    values = {k: v for k, v in query.items() if v not in (None, "")}
    url = f"{BASE}/{path}" + (f"?{urlencode(values)}" if values else "")
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def render(
    context: ConsoleContext,
    template: str,
    *,
    signed: Signed | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    html = context.env.get_template(template).render(
        base=BASE,
        signed=signed,
        csrf=signed.session.csrf if signed else values.pop("csrf", ""),
        scopes=context.scopes(),
        **values,
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def signed_in(context: ConsoleContext, page: Page) -> Callable[[Request], Awaitable[Response]]:
    """``page`` for a signed-in user; anyone else is sent to the sign-in page."""

    async def endpoint(request: Request) -> Response:
        signed = context.sessions.find(request.cookies.get(SESSION_COOKIE), context.config().admin)
        if signed is None:
            if request.method == "GET":
                return redirect("sign-in", next=request.url.path)
            return render(context, "error.html", signed=None, status=401, message="sign in again")
        try:
            return await page(context, request, signed)
        except PageError as exc:
            return render(context, "error.html", signed=signed, status=exc.status, message=exc.message)
        except StoreError as exc:
            log.warning("store error in the console", error=str(exc))
            return render(
                context, "error.html", signed=signed, status=503, message=f"store unavailable: {exc}"
            )

    return endpoint


def require_admin(signed: Signed) -> None:
    if not signed.can_change:
        raise PageError(
            403,
            f"{signed.token.name} has the role {signed.token.role}: only an admin token may change the list",
        )


async def checked_form(request: Request, signed: Signed) -> dict[str, str]:
    """The POSTed form, after its CSRF value matched the session's."""
    form = await read_form(request)
    check_csrf(form, signed.session.csrf)
    return form
