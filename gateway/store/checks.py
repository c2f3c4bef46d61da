"""Argument checks every backend runs before touching storage (misuse is ValueError, not StoreError)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.model import STATELESS_TYPES, SUPPRESSING_TYPES, UNSUPPRESSING_TYPES, Event


def check_limit(limit: int) -> None:
    """ValueError unless ``limit`` (a page size or batch) is positive."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")


def _check_new(event: Event) -> None:
    if event.id is not None:
        raise ValueError(f"event already has id {event.id}; pass a new Event")


def check_suppressing(event: Event) -> None:
    """ValueError unless ``event`` may be passed to :meth:`Store.opt_out`."""
    _check_new(event)
    if event.type not in SUPPRESSING_TYPES:
        raise ValueError(f"opt_out() takes {sorted(SUPPRESSING_TYPES)}, got {event.type!r}")


def check_unsuppressing(event: Event) -> None:
    """ValueError unless ``event`` may be passed to :meth:`Store.opt_in`."""
    _check_new(event)
    if event.type not in UNSUPPRESSING_TYPES:
        raise ValueError(f"opt_in() takes {sorted(UNSUPPRESSING_TYPES)}, got {event.type!r}")


def check_stateless(events: Sequence[Event]) -> None:
    """ValueError unless every event may be passed to :meth:`Store.append_events`."""
    for event in events:
        _check_new(event)
        if event.type not in STATELESS_TYPES:
            raise ValueError(
                f"append_events() takes {sorted(STATELESS_TYPES)}, got {event.type!r}; "
                "use opt_out()/opt_in() for state changes"
            )
