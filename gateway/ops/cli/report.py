"""``stopgate report``: opt-outs and opt-ins of every channel (SMS, API, CLI, import, and any other),
help requests and blocked messages per day, scope and channel; the list size per scope; opt-outs by
keyword; the opt-out rate per campaign. As text, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click

from gateway.config import load_config, scope_filter
from gateway.ops.cli.errors import fail, handle_errors
from gateway.ops.cli.options import config_option, parse_time, scope_option
from gateway.ops.cli.output import short_time, table
from gateway.ops.cli.store import with_store
from gateway.store.base import Store
from gateway.store.model import EventType

#: What each event type counts as: a change of the list (whatever its channel) or an SMS interaction.
_COUNTED_AS = {
    EventType.OPT_OUT: "opt-outs",
    EventType.ADMIN_ADD: "opt-outs",
    EventType.IMPORT: "opt-outs",
    EventType.OPT_IN: "opt-ins",
    EventType.ADMIN_REMOVE: "opt-ins",
    EventType.HELP: "help",
    EventType.BLOCKED: "blocked",
}
_COLUMNS = ["opt-outs", "opt-ins", "help", "blocked"]


def campaign_name(campaign: str | None) -> str:
    if campaign is None:
        return "(unknown)"
    return campaign or "(none)"


@click.command("report", short_help="Opt-out report: per day, scope and channel; list sizes; campaigns.")
@click.option("--since", default=None, metavar="ISO", help="Start of the period (default: everything).")
@click.option("--until", default=None, metavar="ISO", help="End of the period, exclusive (default: now).")
@scope_option("Only this scope (default: every scope).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="text tables, CSV (one row per figure: section, scope, day, channel, key, value) or JSON.",
)
@config_option
@handle_errors
def report(since: str | None, until: str | None, scope: str | None, fmt: str, config_path: Path) -> None:
    """Opt-outs and opt-ins of every channel (sms, api, cli, import), help requests and blocked
    messages per day, scope and channel; the list size per scope (now); opt-outs by keyword; the
    opt-out rate per campaign.

    A campaign is the campaign of the last marketing message sent to the number before it opted out
    (stored on the STOP event): the account's campaign_tlv when configured, else service_type, which
    SMPP limits to 5 characters (configure campaign_tlv for longer names). Sent counts come from the
    proxy's counters, per day: --since/--until select whole days for them.
    """
    config = load_config(config_path)
    scope = scope_filter(config, scope)
    start = parse_time(since, "--since")
    end = parse_time(until, "--until")
    if start is not None and end is not None and end <= start:
        fail("--until must be after --since")

    async def work(store: Store) -> dict[str, Any]:
        per_day: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        keywords: Counter[tuple[str, str]] = Counter()
        by_campaign: Counter[tuple[str, str | None]] = Counter()
        async for e in store.iter_events(since=start, until=end, types=list(_COUNTED_AS), scope=scope):
            per_day[(e.ts.strftime("%Y-%m-%d"), e.scope, e.channel.value)][_COUNTED_AS[e.type]] += 1
            if e.type is EventType.OPT_OUT:
                keywords[(e.scope, (e.keyword or "-").upper())] += 1
                campaign = e.campaign
                if campaign is None:  # events recorded before the campaign was stored on them
                    campaign = await store.last_campaign(e.scope, e.number)
                by_campaign[(e.scope, campaign)] += 1
        # The web opt-out page's one question (issue 16), counted per scope and answer.
        survey: Counter[tuple[str, str]] = Counter()
        reasons = [EventType.OPTOUT_REASON]
        async for e in store.iter_events(since=start, until=end, types=reasons, scope=scope):
            survey[(e.scope, e.reason or "-")] += 1
        sizes: Counter[str] = Counter()
        async for sc, numbers in store.load_numbers():
            if scope is None or sc == scope:
                sizes[sc] += len(numbers)
        since_day = start.strftime("%Y-%m-%d") if start is not None else None
        until_day = end.strftime("%Y-%m-%d") if end is not None else None
        sent: Counter[tuple[str, str | None]] = Counter()
        for day, sc, campaign, count in await store.sent_counts(since_day, scope):
            if (
                until_day is None
                or day < until_day
                or (day == until_day and end is not None and end.time() != end.min.time())
            ):
                sent[(sc, campaign)] += count
        campaigns = []
        for sc, campaign in sorted(
            set(sent) | set(by_campaign), key=lambda k: (k[0], k[1] is None, k[1] or "")
        ):
            n_sent = sent.get((sc, campaign), 0)
            n_out = by_campaign.get((sc, campaign), 0)
            campaigns.append(
                {
                    "scope": sc,
                    "campaign": campaign,
                    "sent": n_sent if campaign is not None else None,
                    "opt_outs": n_out,
                    "rate": round(n_out / n_sent, 6) if n_sent else None,
                }
            )
        return {
            "since": start.isoformat() if start else None,
            "until": end.isoformat() if end else None,
            "scope": scope,
            "per_day": [
                {"day": day, "scope": sc, "channel": ch, **{c.replace("-", "_"): n[c] for c in _COLUMNS}}
                for (day, sc, ch), n in sorted(per_day.items())
            ],
            "list_size": dict(sorted(sizes.items())),
            "keywords": [
                {"scope": sc, "keyword": kw, "opt_outs": n}
                for (sc, kw), n in sorted(keywords.items(), key=lambda i: (i[0][0], -i[1]))
            ],
            "campaigns": campaigns,
            "survey": [
                {"scope": sc, "reason": reason, "answers": n}
                for (sc, reason), n in sorted(survey.items(), key=lambda i: (i[0][0], -i[1]))
            ],
        }

    data = with_store(config, work)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(_csv(data), nl=False)
    else:
        click.echo(_text(data, start, end))


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "scope", "day", "channel", "key", "value"])
    for row in data["per_day"]:
        for column in _COLUMNS:
            key = column.replace("-", "_")
            writer.writerow(["per_day", row["scope"], row["day"], row["channel"], key, row[key]])
    for sc, size in data["list_size"].items():
        writer.writerow(["list_size", sc, "", "", "numbers", size])
    for row in data["keywords"]:
        writer.writerow(["keywords", row["scope"], "", "", row["keyword"], row["opt_outs"]])
    for row in data["campaigns"]:
        name = campaign_name(row["campaign"])
        for key in ("sent", "opt_outs", "rate"):
            value = row[key]
            writer.writerow(
                ["campaigns", row["scope"], "", "", f"{name}:{key}", "" if value is None else value]
            )
    return out.getvalue()


def _text(data: dict[str, Any], start: Any, end: Any) -> str:
    period = " ".join(
        part
        for part in (
            f"since {short_time(start)}" if start is not None else "",
            f"until {short_time(end)}" if end is not None else "",
        )
        if part
    )
    out = [f"Stopgate report ({period or 'all time'}; scope: {data['scope'] or 'all'})", ""]
    out.append("Per day, scope and channel (opt-outs: STOP, API/CLI adds and imports)")
    rows: list[list[Any]] = [
        [r["day"], r["scope"], r["channel"], *(r[c.replace("-", "_")] for c in _COLUMNS)]
        for r in data["per_day"]
    ]
    if rows:
        totals = [sum(r[i] for r in rows) for i in range(3, 3 + len(_COLUMNS))]
        rows.append(["total", "", "", *totals])
        out.append(table(["day", "scope", "channel", *_COLUMNS], rows))
    else:
        out.append("  (no events)")
    out += ["", "List size per scope (now)"]
    if data["list_size"]:
        out.append(table(["scope", "numbers"], [[sc, n] for sc, n in data["list_size"].items()]))
    else:
        out.append("  (empty)")
    out += ["", "Opt-outs by keyword"]
    if data["keywords"]:
        out.append(
            table(
                ["scope", "keyword", "opt-outs"],
                [[r["scope"], r["keyword"], r["opt_outs"]] for r in data["keywords"]],
            )
        )
    else:
        out.append("  (no opt-outs by SMS)")
    out += ["", "Opt-out rate per campaign"]
    if data["campaigns"]:
        rate_rows = [
            [
                r["scope"],
                campaign_name(r["campaign"]),
                "-" if r["sent"] is None else r["sent"],
                r["opt_outs"],
                "-" if r["rate"] is None else f"{100.0 * r['rate']:.2f}%",
            ]
            for r in data["campaigns"]
        ]
        out.append(table(["scope", "campaign", "sent", "opt-outs", "rate"], rate_rows))
    else:
        out.append("  (no marketing traffic recorded)")
    out += ["", "Opt-out reasons (web page survey)"]
    if data["survey"]:
        answers = [[r["scope"], r["reason"], r["answers"]] for r in data["survey"]]
        out.append(table(["scope", "reason", "answers"], answers))
    else:
        out.append("  (no answers)")
    return "\n".join(out)
