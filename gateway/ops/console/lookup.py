"""Number lookup: a number in any spelling, its state in each scope and its whole timeline.

The timeline comes in two lists paged on their own: what the subscriber and the operators did
(opt-outs with the raw text, keyword and the address texted, opt-ins, HELP, confirmations,
operator changes, imports)
and the messages blocked, so a busy number's thousands of blocked messages never push its STOP
off the page. Each row also says where it stands with each ``[[webhook]]`` that subscribes to its
type (:mod:`.deliveries`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.numbers import InvalidNumber
from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.deliveries import webhook_marks
from gateway.ops.console.overview import duration
from gateway.ops.console.sessions import Signed
from gateway.ops.console.web import PageError, render
from gateway.store import Event, EventType

#: Rows per page of each list.
PAGE = 50
HISTORY_TYPES = tuple(t for t in EventType if t is not EventType.BLOCKED)


def _cursor(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isdigit() or len(raw) > 19:
        raise PageError(400, "invalid page cursor")
    return int(raw)


async def _page(
    context: ConsoleContext, number: str, scope: str | None, types: tuple[EventType, ...], after: int
) -> tuple[list[Event], int | None]:
    rows = await context.store.events(number=number, scope=scope, types=types, after_id=after, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return rows, (rows[-1].id if more and rows else None)


async def lookup(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    query = request.query_params
    text = query.get("number", "").strip()
    scope = query.get("scope") or None
    if scope is not None and scope not in context.scopes():
        raise PageError(400, f"unknown scope {scope!r}")
    values: dict[str, Any] = {"text": text, "scope": scope or "", "number": None, "error": ""}
    values["duration"] = duration
    if text:
        try:
            number = context.number(text)
        except InvalidNumber as exc:
            values["error"] = str(exc)
            return render(context, "lookup.html", signed=signed, status=400, **values)
        scopes = [scope] if scope else context.scopes()
        states = [(sc, await context.store.get_suppression(sc, number)) for sc in scopes]
        history_after = _cursor(query.get("history_after"))
        blocked_after = _cursor(query.get("blocked_after"))
        history, history_next = await _page(context, number, scope, HISTORY_TYPES, history_after)
        blocked, blocked_next = await _page(context, number, scope, (EventType.BLOCKED,), blocked_after)
        hooks = context.config().webhooks
        values.update(
            number=number,
            states=states,
            history=history,
            history_after=history_after,
            history_next=history_next,
            blocked=blocked,
            blocked_after=blocked_after,
            blocked_next=blocked_next,
            hooks=[hook.name for hook in hooks],
            marks=await webhook_marks(context.store, hooks, history, blocked),
        )
    return render(context, "lookup.html", signed=signed, **values)
