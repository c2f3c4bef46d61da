"""``stopgate report``: opt-outs, opt-ins, help requests and blocked messages per day and scope,
opt-outs by keyword, and the opt-out rate per campaign."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gateway.config import load_config, scope_filter
from gateway.ops.cli.errors import handle_errors
from gateway.ops.cli.options import config_option, parse_time, scope_option
from gateway.ops.cli.output import short_time, table
from gateway.ops.cli.store import with_store
from gateway.store.base import Store
from gateway.store.model import EventType

_REPORT_TYPES = (EventType.OPT_OUT, EventType.OPT_IN, EventType.HELP, EventType.BLOCKED)
_COLUMNS = {
    EventType.OPT_OUT: "opt-outs",
    EventType.OPT_IN: "opt-ins",
    EventType.HELP: "help",
    EventType.BLOCKED: "blocked",
}


def campaign_name(campaign: str | None) -> str:
    if campaign is None:
        return "(unknown)"
    return campaign or "(none)"


@click.command("report", short_help="Opt-out report: per day and scope, keywords, campaigns.")
@click.option("--since", default=None, metavar="ISO", help="Start of the period (default: everything).")
@scope_option("Only this scope (default: every scope).")
@config_option
@handle_errors
def report(since: str | None, scope: str | None, config_path: Path) -> None:
    """Opt-outs, opt-ins, help requests and blocked messages; keywords; opt-out rate per campaign.

    A campaign is the service_type (or the account's campaign_tlv) of the last marketing message
    sent to the number before it opted out; sent counts come from the proxy's counters.
    """
    config = load_config(config_path)
    scope = scope_filter(config, scope)
    start = parse_time(since, "--since")

    async def work(store: Store) -> str:
        per_day: dict[tuple[str, str], Counter[EventType]] = defaultdict(Counter)
        keywords: Counter[tuple[str, str]] = Counter()
        optouts_by_campaign: Counter[tuple[str, str | None]] = Counter()
        async for e in store.iter_events(since=start, types=_REPORT_TYPES, scope=scope):
            per_day[(e.ts.strftime("%Y-%m-%d"), e.scope)][e.type] += 1
            if e.type is EventType.OPT_OUT:
                keywords[(e.scope, (e.keyword or "-").upper())] += 1
                campaign = e.campaign
                if campaign is None:
                    campaign = await store.last_campaign(e.scope, e.number)
                optouts_by_campaign[(e.scope, campaign)] += 1
        since_day = start.strftime("%Y-%m-%d") if start is not None else None
        sent: Counter[tuple[str, str | None]] = Counter()
        for _day, sc, campaign, count in await store.sent_counts(since_day, scope):
            sent[(sc, campaign)] += count

        period = f"since {short_time(start)}" if start is not None else "all time"
        out = [f"Stopgate report ({period}; scope: {scope or 'all'})", ""]
        out.append("Per day and scope")
        rows: list[list[Any]] = [
            [day, sc, *(counts[t] for t in _REPORT_TYPES)] for (day, sc), counts in sorted(per_day.items())
        ]
        if rows:
            totals = [sum(r[i] for r in rows) for i in range(2, 2 + len(_REPORT_TYPES))]
            rows.append(["total", "", *totals])
            out.append(table(["day", "scope", *(_COLUMNS[t] for t in _REPORT_TYPES)], rows))
        else:
            out.append("  (no events)")
        out += ["", "Opt-outs by keyword"]
        if keywords:
            out.append(
                table(
                    ["scope", "keyword", "opt-outs"],
                    [[sc, kw, n] for (sc, kw), n in sorted(keywords.items(), key=lambda i: (i[0][0], -i[1]))],
                )
            )
        else:
            out.append("  (no opt-outs)")
        out += ["", "Opt-out rate per campaign"]
        keys = sorted(set(sent) | set(optouts_by_campaign), key=lambda k: (k[0], k[1] is None, k[1] or ""))
        if keys:
            rate_rows = []
            for sc, campaign in keys:
                n_sent = sent.get((sc, campaign), 0)
                n_out = optouts_by_campaign.get((sc, campaign), 0)
                rate = f"{100.0 * n_out / n_sent:.2f}%" if n_sent else "-"
                rate_rows.append(
                    [sc, campaign_name(campaign), n_sent if campaign is not None else "-", n_out, rate]
                )
            out.append(table(["scope", "campaign", "sent", "opt-outs", "rate"], rate_rows))
        else:
            out.append("  (no marketing traffic recorded)")
        out += ["", "Opt-out reasons (web page survey)", *await _survey_lines(store, start, scope)]
        return "\n".join(out)

    click.echo(with_store(config, work))


async def _survey_lines(store: Store, start: datetime | None, scope: str | None) -> list[str]:
    """The answers to the web opt-out page's one question, counted per scope (issue 16)."""
    answers: Counter[tuple[str, str]] = Counter()
    async for e in store.iter_events(since=start, types=[EventType.OPTOUT_REASON], scope=scope):
        answers[(e.scope, e.reason or "-")] += 1
    if not answers:
        return ["  (no answers)"]
    rows = [[sc, reason, n] for (sc, reason), n in sorted(answers.items(), key=lambda i: (i[0][0], -i[1]))]
    return [table(["scope", "reason", "answers"], rows)]
