"""The public opt-out site: Starlette on its own uvicorn listener (``[web] listen``).

``GET /u/<token>`` only shows; ``POST /u/<token>`` (CSRF-checked) opts out through the same
:class:`~gateway.optout.changes.OptoutChanges` as an SMS STOP, as an ``opt_out`` event with channel
``web`` whose text records the token, IP and user agent (personal data, so erasure redacts it).
``POST /u/<token>/reason`` stores the survey answer as an ``optout_reason`` event.
Unknown tokens get 404, expired ones 410, an IP over its rate 429.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import parse_qs

import anyio
import anyio.abc
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from gateway.config.integrations import WebConfig
from gateway.numbers import mask_number
from gateway.ops.admin.server import listen_socket
from gateway.ops.web import pages
from gateway.ops.web.guard import CSRF_COOKIE, Csrf, RateLimit
from gateway.optout.changes import OptoutChanges
from gateway.store import Channel, Event, EventType, Store, WebToken
from gateway.store.model import utcnow

log = structlog.get_logger("stopgate.web")

#: Form bodies larger than this are refused (the forms have two short fields).
MAX_FORM = 2048
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


class WebOptout:
    """The ASGI app of the public page over a store and the opt-out path."""

    def __init__(
        self,
        store: Store,
        changes: OptoutChanges,
        config: WebConfig,
        confirm: Callable[[WebToken], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.changes = changes
        #: Sends the account's ``web_confirmation`` SMS (the app's; it knows the SMPP sessions).
        self.confirm = confirm
        self.csrf = Csrf()
        self.limit = RateLimit(config.rate_limit)
        self.asgi = Starlette(
            routes=[
                Route("/u/{token}", self._guarded(self.show), methods=["GET"]),
                Route("/u/{token}", self._guarded(self.opt_out), methods=["POST"]),
                Route("/u/{token}/reason", self._guarded(self.reason), methods=["POST"]),
            ]
        )

    def _guarded(
        self, handler: Callable[[Request, WebToken], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ip = request.client.host if request.client else "unknown"
            if not self.limit.allow(ip):
                return _html(pages.error_page("Too many requests", "Please try again in a minute."), 429)
            token = await self.store.web_token(request.path_params["token"])
            if token is None:
                return _html(pages.error_page("Link not found", "This opt-out link is not valid."), 404)
            if token.expires <= utcnow():
                message = "This opt-out link has expired. Reply STOP to the message instead."
                return _html(pages.error_page("Link expired", message), 410)
            return await handler(request, token)

        return endpoint

    def _form_page(self, request: Request, token: WebToken, render: Callable[[str], str]) -> Response:
        cookie, field = self.csrf.issue(token.token, request.cookies.get(CSRF_COOKIE))
        response = _html(render(field))
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", path="/u/")
        return response

    async def _checked_form(self, request: Request, token: WebToken) -> dict[str, str] | None:
        body = await request.body()
        if len(body) > MAX_FORM:
            return None
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not self.csrf.check(token.token, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return None
        return form

    async def show(self, request: Request, token: WebToken) -> Response:
        masked = mask_number(token.number)
        suppressed = await self.store.get_suppression(token.scope, token.number) is not None
        if suppressed:
            return self._form_page(
                request, token, lambda f: pages.done_page(masked, f"/u/{token.token}/reason", f, already=True)
            )
        return self._form_page(request, token, lambda f: pages.confirm_page(masked, f"/u/{token.token}", f))

    async def opt_out(self, request: Request, token: WebToken) -> Response:
        if await self._checked_form(request, token) is None:
            message = "The form expired. Please open the link again."
            return _html(pages.error_page("Please try again", message), 403)
        masked = mask_number(token.number)
        already = await self.store.get_suppression(token.scope, token.number) is not None
        if not already:  # a second click changes nothing and logs nothing
            evidence = {
                "token": token.token,
                "ip": request.client.host if request.client else None,
                "user_agent": request.headers.get("user-agent", "")[:200],
            }
            await self.changes.opt_out(
                Event(
                    type=EventType.OPT_OUT,
                    number=token.number,
                    scope=token.scope,
                    channel=Channel.WEB,
                    account=token.account,
                    campaign=token.campaign,
                    text=json.dumps(evidence, sort_keys=True),
                )
            )
            log.info("opted out on the web page", scope=token.scope, number=masked)
            if self.confirm is not None:
                await self.confirm(token)
        return self._form_page(
            request, token, lambda f: pages.done_page(masked, f"/u/{token.token}/reason", f, already=already)
        )

    async def reason(self, request: Request, token: WebToken) -> Response:
        form = await self._checked_form(request, token)
        known = {value for value, _ in pages.REASONS}
        if form is None or form.get("reason") not in known:
            return _html(pages.error_page("Please try again", "Choose one of the answers."), 400)
        await self.store.append_events(
            [
                Event(
                    type=EventType.OPTOUT_REASON,
                    number=token.number,
                    scope=token.scope,
                    channel=Channel.WEB,
                    account=token.account,
                    campaign=token.campaign,
                    reason=form["reason"],
                )
            ]
        )
        return _html(pages.thanks_page())


class WebServer:
    """:class:`WebOptout` served on ``host:port`` until cancelled (port 0: any free port)."""

    def __init__(self, app: WebOptout, config: WebConfig) -> None:
        self.app = app
        self.config = config
        self.port: int | None = None

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        sock = listen_socket(self.config.host, self.config.port)
        self.port = int(sock.getsockname()[1])
        server = _Server(
            uvicorn.Config(
                self.app.asgi,
                log_config=None,
                access_log=False,
                lifespan="off",
                ws="none",
                server_header=False,
                timeout_graceful_shutdown=1,
            )
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                with anyio.fail_after(10):
                    while not server.started:
                        await anyio.sleep(0.005)
                log.info("web opt-out page listening", host=self.config.host, port=self.port)
                task_status.started()
        finally:
            server.should_exit = True
            for listener in getattr(server, "servers", []):
                listener.close()
            # Kept-alive connections outlive the cancelled task: closed here (after the response
            # in progress, if any), so a restarted page never leaves the old one answering.
            for connection in list(server.server_state.connections):
                connection.shutdown()
            sock.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process owns SIGTERM/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass
