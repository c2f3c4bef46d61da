"""Durable opt-out state: the storage interface, its backends and the in-memory hot-path index."""

from gateway.store.base import (
    ChangeFeed,
    ConsentRecords,
    Erasure,
    EventLog,
    SentCounters,
    Store,
    SuppressionReader,
    SuppressionWriter,
    WebhookOutbox,
)
from gateway.store.feed import ChangeFollower
from gateway.store.index import IndexBuilder, SuppressionIndex, build_index
from gateway.store.memory import MemoryStore
from gateway.store.model import (
    REDACTED,
    STATE_TYPES,
    STATELESS_TYPES,
    SUPPRESSING_TYPES,
    UNSUPPRESSING_TYPES,
    Change,
    Channel,
    Consent,
    DeadLetter,
    Event,
    EventType,
    StoreClosedError,
    StoreError,
    Suppression,
    WebhookState,
)
from gateway.store.sqlite import SQLiteStore

__all__ = [
    "REDACTED",
    "STATELESS_TYPES",
    "STATE_TYPES",
    "SUPPRESSING_TYPES",
    "UNSUPPRESSING_TYPES",
    "Change",
    "ChangeFeed",
    "ChangeFollower",
    "Channel",
    "Consent",
    "ConsentRecords",
    "DeadLetter",
    "Erasure",
    "Event",
    "EventLog",
    "EventType",
    "IndexBuilder",
    "MemoryStore",
    "SQLiteStore",
    "SentCounters",
    "Store",
    "StoreClosedError",
    "StoreError",
    "Suppression",
    "SuppressionIndex",
    "SuppressionReader",
    "SuppressionWriter",
    "WebhookOutbox",
    "WebhookState",
    "build_index",
]
