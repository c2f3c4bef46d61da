"""``audit.text_retention_days``: MO text older than N days is redacted, periodically.

The facts of each event (type, time, scope, number, keyword) stay: they prove the opt-out; only the
free text the subscriber typed, personal data kept longer than needed, is replaced by the marker.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import structlog

from gateway.store import Store, StoreError
from gateway.store.model import utcnow

log = structlog.get_logger("stopgate.retention")


async def redact_old_texts(store: Store, days: int) -> int:
    """Redact the MO text of events older than ``days`` days; how many events changed."""
    return await store.redact_texts_before(utcnow() - timedelta(days=days))


async def retention_task(store: Store, days: int, interval: float) -> None:
    """Run :func:`redact_old_texts` now and every ``interval`` seconds (store failures are logged)."""
    while True:
        try:
            changed = await redact_old_texts(store, days)
        except StoreError as exc:
            log.error("text retention failed; will retry", error=str(exc))
        else:
            if changed:
                log.info("old MO text redacted", events=changed, older_than_days=days)
        await anyio.sleep(interval)
