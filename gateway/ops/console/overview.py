"""The overview: counts per day, by keyword, by channel and by campaign, and the list size.

Everything comes from the store's maintained counts (:class:`~gateway.store.Aggregates`): a page
costs a few hundred rows read, whatever the size of the log. The time to honour ranks the period's
newest SMS opt-outs (at most :data:`HONOUR_SAMPLE`) in the store, read from an index. The numbers
are turned into the page's values by :func:`summarise`, a pure function, so the arithmetic is tested
without a browser.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.sessions import Signed
from gateway.ops.console.web import PageError, render
from gateway.store import DayCount, EventType, HonourTimes, Total

#: Periods offered, in days.
PERIODS = (30, 90, 365)
#: Opt-out rate thresholds (Klaviyo's: under 0.5% is good, 2% and above is critical).
RATE_GOOD = 0.005
RATE_CRITICAL = 0.02
#: The chart's series: event type, label.
SERIES = (
    (EventType.OPT_OUT, "Opt-outs"),
    (EventType.OPT_IN, "Opt-ins"),
    (EventType.HELP, "HELP"),
    (EventType.BLOCKED, "Blocked"),
)
#: The legal limit to honour an opt-out: FCC 47 CFR 64.1200 (in force 11 April 2025), revocation
#: honoured within 10 business days. Checked against 10 calendar days, which is never longer.
HONOUR_LIMIT = "10 business days (FCC, 47 CFR 64.1200)"
HONOUR_LIMIT_S = 10 * 86_400.0
#: How many of the period's newest SMS opt-outs the percentiles are taken over: bounds the read (and
#: a p99 over 10,000 still has 100 above it).
HONOUR_SAMPLE = 10_000
SUPPRESSING = (EventType.OPT_OUT, EventType.ADMIN_ADD, EventType.IMPORT)
UNSUPPRESSING = (EventType.OPT_IN, EventType.ADMIN_REMOVE)


@dataclass(frozen=True, slots=True)
class CampaignRate:
    scope: str
    campaign: str
    sent: int
    optouts: int

    @property
    def rate(self) -> float | None:
        return self.optouts / self.sent if self.sent else None

    @property
    def level(self) -> str:
        """``good`` (< 0.5%), ``watch`` (0.5% to 2%), ``critical`` (>= 2%) or ``unknown`` (nothing sent)."""
        rate = self.rate
        if rate is None:
            return "unknown"
        if rate >= RATE_CRITICAL:
            return "critical"
        return "watch" if rate >= RATE_GOOD else "good"


def summarise(
    *,
    today: date,
    days: int,
    daily: list[DayCount],
    channels: list[Total],
    keywords: list[Total],
    campaigns: list[Total],
    sent: list[tuple[str, str, int]],
    list_size: int,
) -> dict[str, Any]:
    """The overview's values for the ``days`` days ending ``today`` (UTC)."""
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    series = {t: [0] * days for t, _ in SERIES}
    net = [0] * days
    for row in daily:
        i = index.get(row.day)
        if i is None:
            continue
        if row.type in series:
            series[row.type][i] += row.events
        if row.type in SUPPRESSING:
            net[i] += row.changes
        elif row.type in UNSUPPRESSING:
            net[i] -= row.changes
    # The list size at the end of each day: today's size minus what changed after that day.
    sizes = [0] * days
    size = list_size
    for i in range(days - 1, -1, -1):
        sizes[i] = size
        size -= net[i]

    by_keyword: Counter[str] = Counter()
    for total in keywords:
        by_keyword[(total.value or "(none)").upper()] += total.events
    by_channel: Counter[str] = Counter()
    for total in channels:
        if total.type in SUPPRESSING:
            by_channel[total.value or "(none)"] += total.events
    optouts: Counter[tuple[str, str]] = Counter()
    for total in campaigns:
        optouts[(total.scope, total.value or "(none)")] += total.events
    sent_by: Counter[tuple[str, str]] = Counter()
    for scope, campaign, n in sent:
        sent_by[(scope, campaign or "(none)")] += n
    rates = sorted(
        (
            CampaignRate(scope, campaign, sent_by[(scope, campaign)], optouts[(scope, campaign)])
            for scope, campaign in set(sent_by) | set(optouts)
        ),
        key=lambda c: (-(c.rate or 0.0), -c.optouts, c.scope, c.campaign),
    )
    midnight = [int(datetime.combine(d, datetime.min.time(), UTC).timestamp()) for d in dates]
    chart = {
        "x": midnight,
        "series": [{"label": label, "values": series[t]} for t, label in SERIES],
    }
    return {
        "first": first,
        "totals": {label: sum(series[t]) for t, label in SERIES},
        "chart": _json(chart),
        "sizes": _json({"x": midnight, "series": [{"label": "Numbers suppressed", "values": sizes}]}),
        "list_size": list_size,
        "list_size_start": sizes[0] - net[0],
        "keywords": by_keyword.most_common(),
        "channels": by_channel.most_common(),
        "campaigns": rates,
    }


def within_limit(honour: HonourTimes) -> bool:
    """Every opt-out measured was honoured within the legal limit."""
    return honour.slowest <= HONOUR_LIMIT_S


def duration(seconds: float) -> str:
    """``0.4 ms``, ``12 ms``, ``3.4 s``, ``5.0 min``, ``2.5 h``, ``3.0 days``: a delay, readably."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: ``<`` escaped, so no ``</script>``."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


async def overview(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    query = request.query_params
    raw_days = query.get("days", "30")
    if not raw_days.isdigit() or int(raw_days) not in PERIODS:
        raise PageError(400, f"days must be one of {', '.join(map(str, PERIODS))}")
    days = int(raw_days)
    scope = query.get("scope") or None
    if scope is not None and scope not in context.scopes():
        raise PageError(400, f"unknown scope {scope!r}")
    store = context.store
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    values = summarise(
        today=today,
        days=days,
        daily=await store.daily_counts(first, scope),
        channels=await store.totals("channel", first, scope),
        keywords=await store.totals("keyword", first, scope),
        campaigns=await store.totals("campaign", first, scope),
        sent=await store.sent_totals(first.isoformat(), scope),
        list_size=await store.suppression_count(scope),
    )
    honour = await store.honour_times(first, scope, HONOUR_SAMPLE)
    return render(
        context,
        "overview.html",
        signed=signed,
        days=days,
        periods=PERIODS,
        scope=scope or "",
        today=today,
        rate_good=RATE_GOOD,
        rate_critical=RATE_CRITICAL,
        honour=honour,
        honour_within_limit=honour is not None and within_limit(honour),
        honour_limit=HONOUR_LIMIT,
        honour_sample=HONOUR_SAMPLE,
        duration=duration,
        **values,
    )
