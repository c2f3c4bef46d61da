"""The JSON body a webhook receives for one event (its id is the idempotency key)."""

from __future__ import annotations

import json

from gateway.store import Event


def event_body(event: Event) -> bytes:
    """Compact UTF-8 JSON: id, type, time, number, scope, account, channel, keyword, campaign."""
    return json.dumps(
        {
            "id": event.id,
            "type": event.type.value,
            "time": event.ts.isoformat().replace("+00:00", "Z"),
            "number": event.number,
            "scope": event.scope,
            "account": event.account,
            "channel": event.channel.value,
            "keyword": event.keyword,
            "campaign": event.campaign,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
