"""Plain data of the opt-out store: events, suppressions, feed changes and errors.

Nothing here performs I/O. Numbers are E.164 strings (``"+447700900401"``) normalised by the caller;
scopes are short opt-out list namespaces (``"acme"``). Timestamps are timezone-aware and kept in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal


class EventType(StrEnum):
    """What happened to a number; the audit log records one of these per event."""

    #: Subscriber texted a stop keyword; the number becomes suppressed.
    OPT_OUT = "opt_out"
    #: Subscriber texted a start keyword; the suppression is lifted.
    OPT_IN = "opt_in"
    #: Subscriber texted a help keyword (no state change).
    HELP = "help"
    #: A submit to a suppressed number was refused (no state change).
    BLOCKED = "blocked"
    #: The opt-out / opt-in confirmation message was sent (no state change).
    CONFIRMATION_SENT = "confirmation_sent"
    #: An operator added the number (API or CLI); the number becomes suppressed.
    ADMIN_ADD = "admin_add"
    #: An operator removed the number; the suppression is lifted.
    ADMIN_REMOVE = "admin_remove"
    #: The number arrived in a bulk import; the number becomes suppressed.
    IMPORT = "import"
    #: A consent record was added (no suppression change; the record is in the consent table).
    CONSENT = "consent"
    #: The subscriber's personal fields in the log were replaced by :data:`REDACTED` (erasure).
    REDACTED = "redacted"
    #: The answer to the web opt-out page's one-question survey (``reason``; no state change).
    OPTOUT_REASON = "optout_reason"

    @property
    def suppresses(self) -> bool | None:
        """True if the event suppresses the number, False if it lifts it, None if stateless."""
        if self in SUPPRESSING_TYPES:
            return True
        if self in UNSUPPRESSING_TYPES:
            return False
        return None


#: Event types accepted by :meth:`Store.opt_out`.
SUPPRESSING_TYPES: frozenset[EventType] = frozenset(
    {EventType.OPT_OUT, EventType.ADMIN_ADD, EventType.IMPORT}
)
#: Event types accepted by :meth:`Store.opt_in`.
UNSUPPRESSING_TYPES: frozenset[EventType] = frozenset({EventType.OPT_IN, EventType.ADMIN_REMOVE})
#: Event types that change suppression state (and therefore may appear in the change feed).
STATE_TYPES: frozenset[EventType] = SUPPRESSING_TYPES | UNSUPPRESSING_TYPES
#: Event types accepted by :meth:`Store.append_events`.
STATELESS_TYPES: frozenset[EventType] = frozenset(EventType) - STATE_TYPES


class Channel(StrEnum):
    """Where an event came from."""

    SMS = "sms"
    API = "api"
    CLI = "cli"
    IMPORT = "import"
    #: The public web-link opt-out page.
    WEB = "web"


#: What replaces MO text and other personal fields when a subscriber's data is erased; the SQL
#: backends' append-only triggers allow an UPDATE only to this value.
REDACTED = "[redacted]"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(ts: datetime) -> datetime:
    """``ts`` converted to UTC; naive datetimes are refused because their zone is a guess."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {ts!r}")
    return ts.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of the append-only audit log.

    ``id`` is None until the store assigns it; events read back from a store carry their id and are
    otherwise equal to what was written (``ts`` is normalised to UTC, microsecond precision).
    """

    type: EventType
    number: str
    scope: str
    channel: Channel
    #: The ESME account (system_id) the event is attributed to (SMS events).
    account: str | None = None
    #: The matched keyword (``"STOP"``) for SMS events.
    keyword: str | None = None
    #: Raw MO text as received.
    text: str | None = None
    #: SMSC / proxy message ids involved (the MO, the confirmation, the blocked submit...).
    message_ids: tuple[str, ...] = ()
    reason: str | None = None
    #: The campaign the number last received, for attribution of opt-outs and blocks.
    campaign: str | None = None
    #: Who made a CLI, import or API change: the OS login name, or the API token ("api:token1").
    operator: str | None = None
    #: The address the subscriber texted (an MO's destination: the short code), for SMS events.
    address: str | None = None
    #: When the MO that caused an SMS event arrived (its deliver_sm decoded); None on other channels.
    #: ``ts - received_at`` is how long the proxy took to honour the keyword.
    received_at: datetime | None = None
    ts: datetime = field(default_factory=utcnow)
    id: int | None = None

    def __post_init__(self) -> None:
        # Coerce plain strings to the enums (values read back from storage arrive as str), keep
        # message ids hashable, and pin the timestamp to UTC so stored and read-back events compare
        # equal. object.__setattr__ is the documented way to do this on a frozen dataclass.
        # Each step is skipped when already true (a blocked submit makes an event: the common case
        # costs four type checks instead of two enum lookups and a time zone conversion).
        if type(self.type) is not EventType:
            object.__setattr__(self, "type", EventType(self.type))
        if type(self.channel) is not Channel:
            object.__setattr__(self, "channel", Channel(self.channel))
        if type(self.message_ids) is not tuple:
            object.__setattr__(self, "message_ids", tuple(self.message_ids))
        if self.ts.tzinfo is not UTC:
            object.__setattr__(self, "ts", as_utc(self.ts))
        if self.received_at is not None and self.received_at.tzinfo is not UTC:
            object.__setattr__(self, "received_at", as_utc(self.received_at))


@dataclass(frozen=True, slots=True)
class Suppression:
    """A number that must not receive marketing traffic in ``scope``."""

    scope: str
    number: str
    #: When the suppressing event happened (its ``ts``).
    since: datetime
    #: The suppressing event's channel (a :class:`Channel` value).
    channel: str
    keyword: str | None
    reason: str | None
    #: The id of the event that created the suppression.
    event_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """A record that ``number`` agreed to marketing in ``scope`` (who, when, how, what they were told).

    ``id`` is None until stored. ``ended`` is set when an opt-out (or a later revocation) ended it;
    a consent with ``ended`` None is live.
    """

    scope: str
    number: str
    #: The mechanism: ``web_form``, ``keyword``, ``paper``, ``api``...
    source: str
    #: The exact wording shown to the subscriber (or the MO text of a keyword opt-in).
    wording: str | None = None
    #: Evidence such as the IP address or form id, as short strings.
    evidence: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    ts: datetime = field(default_factory=utcnow)
    ended: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", as_utc(self.ts))
        if self.ended is not None:
            object.__setattr__(self, "ended", as_utc(self.ended))


@dataclass(frozen=True, slots=True, kw_only=True)
class WebToken:
    """An opaque opt-out link token: what ``/u/<token>`` acts on. Never derived from the number."""

    token: str
    scope: str
    number: str
    account: str | None = None
    campaign: str | None = None
    expires: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "expires", as_utc(self.expires))


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookState:
    """Where delivery to one configured webhook stands (kept in the store so restarts resume)."""

    name: str
    #: The id of the last event delivered (or dead-lettered); delivery resumes after it.
    cursor: int = 0
    #: Events given up on after the retry period, and the last failure.
    dead_letters: int = 0
    last_error: str | None = None
    updated: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """An event one webhook could not deliver within its retry period."""

    webhook: str
    event_id: int
    ts: datetime
    error: str


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: after event ``id``, (scope, number) is (not) suppressed."""

    id: int
    scope: str
    number: str
    suppressed: bool


@dataclass(frozen=True, slots=True)
class DayCount:
    """Events of one type on one UTC day (summed over the scopes asked for)."""

    day: date
    type: EventType
    events: int
    #: How many of them changed a number's state (became / stopped being suppressed).
    changes: int


#: What :meth:`~gateway.store.Aggregates.totals` groups events by.
TotalBy = Literal["channel", "keyword", "campaign"]


@dataclass(frozen=True, slots=True)
class Total:
    """Events of one type and scope over a period with one channel, keyword or campaign."""

    scope: str
    type: EventType
    #: The channel, keyword or campaign (None: the event had none).
    value: str | None
    events: int
    #: How many of them changed a number's state.
    changes: int


@dataclass(frozen=True, slots=True)
class HonourTimes:
    """Seconds from an SMS opt-out's MO arrival to its commit (``ts - received_at``), over ``count``
    opt-outs: nearest-rank p50 and p99 (the ``ceil(p * count)``-th smallest) and the slowest."""

    count: int
    p50: float
    p99: float
    slowest: float

    @classmethod
    def of(cls, delays: list[float]) -> HonourTimes | None:
        """From the delays themselves (a negative one, clock skew, counts as 0); None if none."""
        if not delays:
            return None
        ordered = sorted(max(d, 0.0) for d in delays)
        n = len(ordered)
        # ceil(p * n) in integers, as the SQL backends compute it: (n + 1) // 2, (99n + 99) // 100.
        return cls(n, ordered[(n + 1) // 2 - 1], ordered[(99 * n + 99) // 100 - 1], ordered[-1])


class StoreError(Exception):
    """The store failed (disk full, read-only, locked, corrupt, unreachable).

    Transient from the caller's point of view: the SMPP layer answers with a temporary error so the
    peer retries. The underlying exception is chained as ``__cause__``.
    """


class StoreClosedError(StoreError):
    """The store was used before :meth:`Store.open` or after :meth:`Store.close`."""
