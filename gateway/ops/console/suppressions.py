"""The suppression list: search, page, export as CSV; add and remove with a reason (admin role).

A search is a whole number in any spelling (that number, in every scope) or the start of an E.164
number (``+4477``, ``4477``: every number beginning so), read as key ranges of the list, never as a
scan. Changes go through the same commit as the admin API, so they reach the proxy at once and the
audit log records ``api:<token name>`` and the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.numbers import InvalidNumber
from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.sessions import Signed
from gateway.ops.console.web import (
    SECURITY_HEADERS,
    PageError,
    checked_form,
    redirect,
    render,
    require_admin,
)
from gateway.ops.records import iso
from gateway.store import Suppression

PAGE = 50
MAX_REASON = 1000
CSV_FIELDS = ("number", "scope", "since", "channel", "keyword", "reason")


def _prefix(text: str) -> str | None:
    """``+<digits>`` for a partial international number, or None if ``text`` is not one."""
    compact = "".join(c for c in text if c not in " -.()")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.startswith("+"):
        compact = "+" + compact
    digits = compact[1:]
    return compact if digits.isascii() and digits.isdigit() and len(digits) <= 15 else None


async def _search(
    context: ConsoleContext, scopes: list[str], text: str, after: tuple[str, str] | None
) -> tuple[list[Suppression], tuple[str, str] | None, str]:
    """One page of the list (or of the numbers matching ``text``), the next cursor, and a note."""
    store = context.store
    if text:
        try:
            number = context.number(text)
        except InvalidNumber:
            number = None
        if number is not None:
            found = [s for s in [await store.get_suppression(sc, number) for sc in scopes] if s is not None]
            return found, None, f"the number {number}"
    prefix = _prefix(text) if text else ""
    if prefix is None:
        raise PageError(400, f"{text!r} is neither a phone number nor the start of one")
    rows: list[Suppression] = []
    for scope in scopes:
        if after is not None and scope < after[0]:
            continue
        start = after[1] if after is not None and scope == after[0] else prefix
        while len(rows) <= PAGE:
            page = await store.list_suppressions(
                scope, (scope, start) if start else None, PAGE + 1 - len(rows)
            )
            matching = [s for s in page if s.number.startswith(prefix)]
            rows.extend(matching)
            if len(matching) < len(page) or not page or len(rows) > PAGE:
                break
            start = page[-1].number
        if len(rows) > PAGE:
            break
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    cursor = (rows[-1].scope, rows[-1].number) if more else None
    return rows, cursor, (f"numbers starting {prefix}" if prefix else "")


async def suppressions(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    query = request.query_params
    scope = query.get("scope") or None
    if scope is not None and scope not in context.scopes():
        raise PageError(400, f"unknown scope {scope!r}")
    scopes = [scope] if scope else context.scopes()
    text = query.get("q", "").strip()
    after = None
    if query.get("after_scope") and query.get("after"):
        after = (query["after_scope"], query["after"])
    rows, cursor, note = await _search(context, scopes, text, after)
    return render(
        context,
        "suppressions.html",
        signed=signed,
        rows=rows,
        cursor=cursor,
        note=note,
        q=text,
        scope=scope or "",
        total=await context.store.suppression_count(scope),
        done=query.get("done", ""),
        iso=iso,
    )


async def export_csv(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    scope = request.query_params.get("scope") or None
    if scope is not None and scope not in context.scopes():
        raise PageError(400, f"unknown scope {scope!r}")

    async def lines() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        count = 0
        async for s in context.store.iter_suppressions(scope):
            writer.writerow([s.number, s.scope, iso(s.since), s.channel, s.keyword or "", s.reason or ""])
            count += 1
            if count % 1000 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    name = f"suppressions-{scope or 'all'}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _reason(form: dict[str, str]) -> str:
    reason = form.get("reason", "").strip()
    if not reason:
        raise PageError(400, "a reason is required")
    if len(reason) > MAX_REASON:
        raise PageError(400, f"the reason is longer than {MAX_REASON} characters")
    return reason


def _scope(context: ConsoleContext, raw: str) -> str:
    if raw not in context.scopes():
        raise PageError(400, f"unknown scope {raw!r}")
    return raw


async def add(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    require_admin(signed)
    form = await checked_form(request, signed)
    scope = _scope(context, form.get("scope", ""))
    reason = _reason(form)
    try:
        number = context.number(form.get("number", ""))
    except InvalidNumber as exc:
        raise PageError(400, str(exc)) from None
    new = await context.opt_out(scope=scope, number=number, operator=signed.operator, reason=reason)
    done = f"{number} opted out in {scope}" if new else f"{number} was already opted out in {scope}"
    return redirect("suppressions", q=number, done=done)


async def remove_page(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    require_admin(signed)
    query = request.query_params
    scope = _scope(context, query.get("scope", ""))
    try:
        number = context.number(query.get("number", ""))
    except InvalidNumber as exc:
        raise PageError(400, str(exc)) from None
    current = await context.store.get_suppression(scope, number)
    return render(context, "remove.html", signed=signed, number=number, scope=scope, current=current, iso=iso)


async def remove(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    require_admin(signed)
    form = await checked_form(request, signed)
    scope = _scope(context, form.get("scope", ""))
    try:
        number = context.number(form.get("number", ""))
    except InvalidNumber as exc:
        raise PageError(400, str(exc)) from None
    reason = _reason(form)
    removed = await context.opt_in(scope=scope, number=number, operator=signed.operator, reason=reason)
    done = f"{number} removed from {scope}" if removed else f"{number} was not opted out in {scope}"
    return redirect("suppressions", q=number, done=done)
