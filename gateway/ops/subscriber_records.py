"""Plain-dict views of consent records and webhook states, and reading a consent from plain data.

Shared by the CLI (``stopgate consent``, ``stopgate webhooks``) and the admin API (``/v1/consents``,
``/v1/webhooks``), like :mod:`gateway.ops.records` for suppressions and events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.config.integrations import WebhookConfig
from gateway.ops.records import iso, parse_iso
from gateway.store.base import EventLog
from gateway.store.model import Consent, DeadLetter, WebhookState, utcnow
from gateway.store.selfservice import WebhookOutbox

#: Consent sources the issue names; others are accepted (a form of words the operator uses).
KNOWN_SOURCES = ("web_form", "keyword", "paper", "api")
#: Evidence keys read from a CSV row or a JSON body besides the named fields.
EVIDENCE_KEYS = ("ip", "form_id", "user_agent", "reference")


def consent_record(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "scope": c.scope,
        "source": c.source,
        "wording": c.wording,
        "time": iso(c.ts),
        "evidence": dict(c.evidence),
        "account": c.account,
        "ended": None if c.ended is None else iso(c.ended),
        "live": c.ended is None,
    }


def consent_from_fields(
    fields: Mapping[str, Any], *, number: str, scope: str, account: str | None
) -> Consent:
    """A :class:`Consent` from a CSV row or JSON body (``source``, ``wording``, ``time``, evidence).

    ValueError names what is wrong; ``number`` and ``scope`` are already normalised by the caller.
    """
    source = str(fields.get("source") or "").strip()
    if not source:
        raise ValueError("source is required (web_form, keyword, paper, api, ...)")
    raw_time = fields.get("time")
    ts = parse_iso(str(raw_time)) if raw_time else utcnow()
    evidence: dict[str, str] = {}
    given = fields.get("evidence")
    if isinstance(given, Mapping):
        evidence.update({str(k): str(v) for k, v in given.items() if v is not None})
    elif given is not None:
        raise ValueError("evidence must be an object of strings")
    for key in EVIDENCE_KEYS:
        value = fields.get(key)
        if value:
            evidence[key] = str(value)
    wording = fields.get("wording")
    return Consent(
        scope=scope,
        number=number,
        source=source,
        wording=str(wording) if wording else None,
        evidence=evidence,
        account=account,
        ts=ts,
    )


#: ``pending`` is counted up to this many log entries ("10000+" beyond).
PENDING_CAP = 10_000


async def webhook_statuses(
    store: WebhookOutbox, log: EventLog, hooks: Sequence[WebhookConfig]
) -> list[dict[str, Any]]:
    """Every configured webhook and every cursor the store keeps, with its backlog and dead letters."""
    by_name = {hook.name: hook for hook in hooks}
    states = {state.name: state for state in await store.webhook_states()}
    out = []
    for name in sorted(by_name.keys() | states.keys()):
        state = states.get(name) or WebhookState(name=name)
        pending = len(await log.events(after_id=state.cursor, limit=PENDING_CAP))
        out.append(webhook_record(by_name.get(name), state, pending, await store.dead_letters(name, 10)))
    return out


def webhook_record(
    hook: WebhookConfig | None, state: WebhookState, pending: int, dead: list[DeadLetter]
) -> dict[str, Any]:
    """One webhook's delivery state; ``pending`` counts log entries past its cursor (of any type)."""
    return {
        "name": state.name,
        "url": None if hook is None else hook.url,
        "events": None if hook is None else list(hook.events),
        "configured": hook is not None,
        "cursor": state.cursor,
        "pending": pending,
        "dead_letters": state.dead_letters,
        "last_error": state.last_error,
        "updated": None if state.updated is None else iso(state.updated),
        "recent_dead_letters": [{"event_id": d.event_id, "time": iso(d.ts), "error": d.error} for d in dead],
    }
