"""Durable opt-out state: the storage interface, its backends and the in-memory hot-path index."""

from gateway.store.base import (
    Aggregates,
    ChangeFeed,
    EventLog,
    SentCounters,
    Store,
    SuppressionReader,
    SuppressionWriter,
)
from gateway.store.feed import ChangeFollower
from gateway.store.index import IndexBuilder, SuppressionIndex, build_index
from gateway.store.memory import MemoryStore
from gateway.store.model import (
    STATE_TYPES,
    STATELESS_TYPES,
    SUPPRESSING_TYPES,
    UNSUPPRESSING_TYPES,
    Change,
    Channel,
    DayCount,
    Event,
    EventType,
    StoreClosedError,
    StoreError,
    Suppression,
    Total,
    TotalBy,
)
from gateway.store.sqlite import SQLiteStore

__all__ = [
    "STATELESS_TYPES",
    "STATE_TYPES",
    "SUPPRESSING_TYPES",
    "UNSUPPRESSING_TYPES",
    "Aggregates",
    "Change",
    "ChangeFeed",
    "ChangeFollower",
    "Channel",
    "DayCount",
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
    "Total",
    "TotalBy",
    "build_index",
]
