"""Plain data of the opt-out store: events, suppressions, feed changes and errors.

Nothing here performs I/O. Numbers are E.164 strings (``"+447700900401"``) normalised by the caller;
scopes are short opt-out list namespaces (``"acme"``). Timestamps are timezone-aware and kept in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: after event ``id``, (scope, number) is (not) suppressed."""

    id: int
    scope: str
    number: str
    suppressed: bool


class StoreError(Exception):
    """The store failed (disk full, read-only, locked, corrupt, unreachable).

    Transient from the caller's point of view: the SMPP layer answers with a temporary error so the
    peer retries. The underlying exception is chained as ``__cause__``.
    """


class StoreClosedError(StoreError):
    """The store was used before :meth:`Store.open` or after :meth:`Store.close`."""
