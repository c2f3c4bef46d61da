"""Audit export: the event log for a date range and a scope, as JSON lines or CSV.

The range is whole UTC days, both ends included. The export reads only the id range the day
counts give for those days (:meth:`~gateway.store.Aggregates.event_id_bounds`), in pages by id, so a
week from last year costs that week, not a walk from the start of a 50-million-event log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.sessions import Signed
from gateway.ops.console.web import SECURITY_HEADERS, PageError, render
from gateway.ops.records import EVENT_FIELDS, event_record
from gateway.store import Event

FORMATS = ("jsonl", "csv")
#: Events read per round trip.
PAGE = 1000


async def audit_page(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    today = datetime.now(UTC).date()
    return render(
        context,
        "audit.html",
        signed=signed,
        since=(today - timedelta(days=29)).isoformat(),
        until=today.isoformat(),
    )


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PageError(400, f"{name}: expected a date such as 2025-04-11, got {raw!r}") from None


def _line(event: Event, fmt: str) -> str:
    record = event_record(event)
    if fmt == "jsonl":
        return json.dumps(record, ensure_ascii=False) + "\n"
    out = io.StringIO()
    record["message_ids"] = " ".join(record["message_ids"])
    csv.writer(out, lineterminator="\n").writerow(
        ["" if record[f] is None else record[f] for f in EVENT_FIELDS]
    )
    return out.getvalue()


async def export(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    query = request.query_params
    first = _day(query.get("since", ""), "from")
    last = _day(query.get("until", ""), "to")
    if last < first:
        raise PageError(400, "the range ends before it starts")
    fmt = query.get("format", "jsonl")
    if fmt not in FORMATS:
        raise PageError(400, f"format must be one of {', '.join(FORMATS)}")
    scope = query.get("scope") or None
    if scope is not None and scope not in context.scopes():
        raise PageError(400, f"unknown scope {scope!r}")
    store = context.store
    end = last + timedelta(days=1)
    bounds = await store.event_id_bounds(first, end)
    since = datetime.combine(first, time(), UTC)
    until = datetime.combine(end, time(), UTC)

    async def lines() -> AsyncIterator[str]:
        if fmt == "csv":
            yield ",".join(EVENT_FIELDS) + "\n"
        if bounds is None:
            return
        after, last_id = bounds[0] - 1, bounds[1]
        while after < last_id:
            # Only the id range, no other filter in the query: the page ends at the range's end
            # instead of scanning the rest of the log for a match.
            page = await store.events(after_id=after, limit=min(PAGE, last_id - after))
            if not page:
                return
            chunk = [
                _line(e, fmt) for e in page if since <= e.ts < until and (scope is None or e.scope == scope)
            ]
            if chunk:
                yield "".join(chunk)
            newest = page[-1].id
            assert newest is not None
            after = newest

    name = f"audit-{scope or 'all'}-{first.isoformat()}-{last.isoformat()}.{fmt}"
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )
