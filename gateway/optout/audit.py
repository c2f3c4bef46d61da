"""What the engine writes to the store in batches: stateless events (blocked messages, HELP requests,
confirmations sent) and the marketing messages sent per day, scope and campaign.

Neither is worth a commit per message: they are queued in memory and written together, at most
:data:`FLUSH_DELAY` seconds after the first of a batch was queued (the engine's timer calls
:meth:`Audit.flush` at :meth:`Audit.next_deadline`). Opt-outs and opt-ins are not written here: they
are committed one by one, before the SMSC is answered (:mod:`gateway.optout.changes`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.policy.keywords import Match
from gateway.smpp.fields import find_tlv
from gateway.smpp.pdu import DataSm, SubmitMulti, SubmitSm
from gateway.store.base import Store
from gateway.store.model import Channel, Event, EventType, StoreError

from .accounts import AccountPolicy

#: Seconds between the first event or count of a batch and its write.
FLUSH_DELAY = 0.2
MAX_QUEUED_EVENTS = 100_000


def account_event(
    kind: EventType,
    number: str,
    account: AccountPolicy,
    match: Match | None = None,
    text: str | None = None,
    **extra: Any,
) -> Event:
    """An event about ``number`` from an SMS through ``account``."""
    return Event(
        type=kind,
        number=number,
        scope=account.scope,
        channel=Channel.SMS,
        account=account.config.system_id,
        keyword=match.keyword if match else None,
        text=text,
        **extra,
    )


def campaign_of(account: AccountPolicy, pdu: SubmitSm | DataSm | SubmitMulti) -> str:
    """The campaign a message belongs to: the account's campaign TLV if it has one, else service_type."""
    tag = account.config.campaign_tlv
    if tag is not None:
        value = find_tlv(pdu.tlvs, tag)
        if value is not None:
            return value.rstrip(b"\x00").decode("latin-1")
    return pdu.service_type


class Audit:
    """Queued events and sent counters, written to the store in batches (kept on failure, bounded).

    ``clock`` is the engine's monotonic clock; ``arm(deadline)`` tells the engine's timer when the
    next batch is due.
    """

    def __init__(
        self, store: Store, log: Any, clock: Callable[[], float], arm: Callable[[float], None]
    ) -> None:
        self.store = store
        self.log = log
        self.clock = clock
        self.arm = arm
        self.events: list[Event] = []
        #: Marketing messages sent, by (day, scope, campaign): a plain dict (a Counter's subscript
        #: takes the slow path; this is counted for every message).
        self.sent: dict[tuple[str, str, str], int] = {}
        #: The last campaign sent to each (scope, number), with its wall-clock time.
        self.campaigns: dict[tuple[str, str], tuple[str, float]] = {}
        self._flush_at = math.inf
        self._day = ""
        self._day_ends = 0.0

    def next_deadline(self) -> float | None:
        """When the queued batch is due, or None if nothing is queued."""
        return None if self._flush_at == math.inf else self._flush_at

    def _due(self) -> None:
        """Something was queued: make sure a flush is due within FLUSH_DELAY."""
        if self._flush_at == math.inf:
            self._flush_at = self.clock() + FLUSH_DELAY
            self.arm(self._flush_at)

    def queue(self, event: Event) -> None:
        events = self.events
        if not events:
            self._due()
        if len(events) < MAX_QUEUED_EVENTS:
            events.append(event)

    def count_sent(self, account: AccountPolicy, pdu: SubmitSm | DataSm | SubmitMulti, number: str) -> None:
        """Count one marketing message sent to ``number`` (runs for every one: keep it cheap)."""
        campaign = pdu.service_type if account.config.campaign_tlv is None else campaign_of(account, pdu)
        now = time.time()  # wall clock: the day counted, and the time stored with the campaign
        if now >= self._day_ends:
            self._day = time.strftime("%Y-%m-%d", time.gmtime(now))
            self._day_ends = (now // 86400 + 1) * 86400
        key = (self._day, account.scope, campaign)
        try:
            self.sent[key] += 1
        except KeyError:  # the first of the day for this campaign, or of a batch
            self.sent[key] = 1
            self._due()
        if campaign:  # the report attributes opt-outs to campaigns; without one there is nothing to keep
            self.campaigns[(account.scope, number)] = (campaign, now)

    async def flush(self) -> None:
        """Write queued events and sent counters to the store now; what fails is kept for the next one."""
        self._flush_at = math.inf
        if self.events:
            batch, self.events = self.events, []
            try:
                await self.store.append_events(batch)
            except StoreError as exc:
                self.log.warning("could not write events; will retry", error=str(exc), count=len(batch))
                self.events = (batch + self.events)[-MAX_QUEUED_EVENTS:]
                self._due()
        if self.sent:
            counts, self.sent = self.sent, {}
            campaigns, self.campaigns = self.campaigns, {}
            rows = [
                (scope, number, campaign, datetime.fromtimestamp(ts, UTC))
                for (scope, number), (campaign, ts) in campaigns.items()
            ]
            try:
                await self.store.add_sent_counts(counts)
                if rows:
                    await self.store.record_last_campaigns(rows)
            except StoreError as exc:
                self.log.warning("could not write sent counters", error=str(exc))
                for key, count in counts.items():  # add back to what was counted meanwhile
                    self.sent[key] = self.sent.get(key, 0) + count
                self._due()
