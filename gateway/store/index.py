"""The in-memory suppression check on the submit hot path, kept in step with the store's change feed.

Layout (about 12 bytes per number, so 10,000,000 numbers fit in ~120 MB):

* every scope string gets a small id; an E.164 number ``"+447700900401"`` becomes the integer
  ``447700900401`` (15 digits at most, < 2**50); the key is ``scope_id << 50 | digits``;
* ``_base`` is a sorted ``array('Q')`` of keys searched with ``bisect`` (O(log n));
* ``_added`` (keys not in the base) and ``_removed`` (keys of the base) are small sets holding the
  changes since the last :meth:`SuppressionIndex.compact`, which merges them into a new base with
  slice copies (memcpy) once they outgrow ``len(base) / 128`` (at least 4096 entries);
* numbers that are not canonical E.164 (or scopes beyond 2**14) are kept verbatim in a plain set,
  so the index never answers "not suppressed" for anything the store holds.

* ``_filter`` is a byte per ``key % len(_filter)`` set for every key of the base (a one-hash Bloom
  filter, ~4 bytes per number): most numbers a campaign sends to are not suppressed, and one probe
  answers them without the bisect's cache misses. Keys removed from the base leave their byte set
  (a false positive costs the bisect); it is rebuilt when the base outgrows it.

Invariants: ``_added`` and the base are disjoint, ``_removed`` is a subset of the base, and
``_filter[key % len(_filter)]`` is set for every key of the base.
"""

from __future__ import annotations

import gc
import operator
import re
import sys
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from itertools import chain, groupby, islice, repeat

from gateway.store.base import Store
from gateway.store.model import Change

#: Bits reserved for the digits of a number (10**15 < 2**50).
SCOPE_SHIFT = 50
#: Scope ids must fit the 14 bits left above the digits of a 64-bit key.
MAX_SCOPES = 1 << (64 - SCOPE_SHIFT)
#: E.164: a plus, a non-zero country code digit, at most 15 digits in all (ASCII only).
_E164 = re.compile(r"\+[1-9][0-9]{0,14}")
_MIN_COMPACT = 4096
# A canonical number of length L ("+" and L-1 digits) has a value in [_LOW[L], _HIGH[L]).
_LOW = [0, 0, *(10 ** (length - 2) for length in range(2, 17))]
_HIGH = [0, 0, *(10 ** (length - 1) for length in range(2, 17))]
_RANGES = [range(low, high) for low, high in zip(_LOW, _HIGH, strict=True)]
#: Filter bytes per key of the base (about 1 - e**-0.25 = 22% false positives), and at least this many.
_FILTER_BYTES_PER_KEY = 4
_MIN_FILTER = 1 << 16


def _filter_size(keys: int) -> int:
    """A filter length for ``keys`` keys, ending in 3: odd and no multiple of 5, so that numbers in
    decimal steps spread over the whole filter."""
    return max(_MIN_FILTER, _FILTER_BYTES_PER_KEY * keys) // 10 * 10 + 3


def _strictly_increasing(keys: array[int]) -> bool:
    return all(map(operator.lt, keys, islice(keys, 1, None)))


def _canonical_values(numbers: list[str], lengths: list[int]) -> list[int] | None:
    """int(number) for each number if all are canonical E.164, else None; C-level passes only.

    Canonical means ASCII, exactly one "+", and a value with exactly len(number) - 1 digits:
    together that rules out spaces, underscores, leading zeros, signs elsewhere and non-ASCII
    digits, all of which ``int()`` would otherwise accept.
    """
    if not numbers:
        return None
    shortest, longest = min(lengths), max(lengths)
    if shortest < 2 or longest > 16:
        return None
    joined = "".join(numbers)
    if not joined.isascii() or joined.count("+") != len(numbers):
        return None
    try:
        values = list(map(int, numbers))
    except ValueError:
        return None
    if shortest == longest:  # the usual chunk: one length, so one range for min and max
        ok = _LOW[shortest] <= min(values) and max(values) < _HIGH[shortest]
    else:
        ok = all(map(range.__contains__, map(_RANGES.__getitem__, lengths), values))
    return values if ok else None


def _sorted_unique(keys: Iterable[int]) -> array[int]:
    return array("Q", map(operator.itemgetter(0), groupby(sorted(keys))))


class SuppressionIndex:
    """Membership of (scope, number) pairs: :meth:`contains` is the hot path."""

    def __init__(self, *, compact_threshold: int = _MIN_COMPACT, filter_size: int | None = None) -> None:
        #: Pending changes always allowed before an automatic :meth:`compact` (it also waits for
        #: ``len(base) / 128`` of them, keeping the amortised cost per change constant).
        self.compact_threshold = compact_threshold
        #: A fixed filter length (tests use a tiny one to make every lookup collide); None: sized
        #: from the base.
        self._fixed_filter_size = filter_size
        self._scope_ids: dict[str, int] = {}
        self._base: array[int] = array("Q")
        self._filter = bytearray(filter_size or 1)
        self._added: set[int] = set()
        self._removed: set[int] = set()
        self._other: set[tuple[str, str]] = set()
        #: The id of the last change applied (see :meth:`apply` and :func:`build_index`).
        self.change_id = 0

    # -- keys ----------------------------------------------------------------------------------

    def _scope_id(self, scope: str) -> int | None:
        sid = self._scope_ids.get(scope)
        if sid is None and len(self._scope_ids) < MAX_SCOPES:
            sid = self._scope_ids[scope] = len(self._scope_ids)
        return sid

    def _key(self, scope: str, number: str, *, create: bool) -> int | None:
        """The packed key, or None if (scope, number) lives in the verbatim set."""
        if _E164.fullmatch(number) is None:
            return None
        sid = self._scope_id(scope) if create else self._scope_ids.get(scope)
        if sid is None:
            return None
        return sid << SCOPE_SHIFT | int(number)

    def _in_base(self, key: int) -> bool:
        keys_filter = self._filter
        if not keys_filter[key % len(keys_filter)]:
            return False
        base = self._base
        i = bisect_left(base, key)
        return i != len(base) and base[i] == key

    # -- queries -------------------------------------------------------------------------------

    def contains(self, scope: str, number: str) -> bool:
        """True if ``number`` is suppressed in ``scope``."""
        sid = self._scope_ids.get(scope)
        if sid is not None and _E164.fullmatch(number) is not None:
            return self._has(sid << SCOPE_SHIFT | int(number))
        return (scope, number) in self._other

    def contains_e164(self, scope: str, number: str) -> bool:
        """:meth:`contains` for a number already in E.164 form, as :func:`gateway.numbers.normalize_number`
        returns it (``+`` and digits, no leading zero): the hot path skips the pattern check. Longer
        than E.164 allows, it takes :meth:`contains` (such a number would not fit the packed key)."""
        sid = self._scope_ids.get(scope)
        if sid is None or len(number) > 16:
            return self.contains(scope, number)
        key = sid << SCOPE_SHIFT | int(number)
        # _has and _in_base, written out: this runs for every marketing message.
        if key in self._added:
            return True
        keys_filter = self._filter
        if not keys_filter[key % len(keys_filter)] or key in self._removed:
            return False
        base = self._base
        i = bisect_left(base, key)
        return i != len(base) and base[i] == key

    def _has(self, key: int) -> bool:
        if key in self._added:
            return True
        if key in self._removed:
            return False
        return self._in_base(key)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        scope, number = item
        return isinstance(scope, str) and isinstance(number, str) and self.contains(scope, number)

    def __len__(self) -> int:
        return len(self._base) + len(self._added) - len(self._removed) + len(self._other)

    def memory_usage(self) -> int:
        """Approximate bytes held (base array, pending sets and their ints, scope table)."""
        pending = len(self._added) + len(self._removed)
        return (
            sys.getsizeof(self._base)
            + sys.getsizeof(self._filter)
            + sys.getsizeof(self._added)
            + sys.getsizeof(self._removed)
            + pending * 32
            + sys.getsizeof(self._scope_ids)
            + sum(sys.getsizeof(s) for s in self._scope_ids)
            + sys.getsizeof(self._other)
            + sum(sys.getsizeof(s) + sys.getsizeof(n) + 56 for s, n in self._other)
        )

    # -- updates -------------------------------------------------------------------------------

    def add(self, scope: str, number: str) -> bool:
        """Mark suppressed; True if it was not."""
        key = self._key(scope, number, create=True)
        if key is None:
            if (scope, number) in self._other:
                return False
            self._other.add((scope, number))
            return True
        if key in self._removed:
            self._removed.discard(key)
            return True
        if key in self._added or self._in_base(key):
            return False
        self._added.add(key)
        self._maybe_compact()
        return True

    def remove(self, scope: str, number: str) -> bool:
        """Mark not suppressed; True if it was."""
        key = self._key(scope, number, create=False)
        if key is None:
            if (scope, number) in self._other:
                self._other.discard((scope, number))
                return True
            return False
        if key in self._added:
            self._added.discard(key)
            return True
        if key in self._removed or not self._in_base(key):
            return False
        self._removed.add(key)
        self._maybe_compact()
        return True

    def apply(self, changes: Iterable[Change]) -> None:
        """Apply change-feed entries in order (idempotent) and remember the last id."""
        for change in changes:
            if change.suppressed:
                self.add(change.scope, change.number)
            else:
                self.remove(change.scope, change.number)
            self.change_id = max(self.change_id, change.id)

    def bulk_load(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add many pairs at once; much faster than repeated :meth:`add` (see :class:`IndexBuilder`)."""
        builder = IndexBuilder(self)
        builder.feed(pairs)
        builder.finish()

    # -- compaction ----------------------------------------------------------------------------

    def _maybe_compact(self) -> None:
        if len(self._added) + len(self._removed) > max(self.compact_threshold, len(self._base) >> 7):
            self.compact()

    def compact(self) -> None:
        """Merge the pending sets into a new sorted base.

        O(len(base)) but as a handful of memcpy's plus O(k log n) Python work for k pending keys:
        ~50 ms for a 10,000,000-key base.
        """
        added, removed = self._added, self._removed
        if not added and not removed:
            return
        base = self._base
        out: array[int] = array("Q")
        raw = memoryview(base).cast("B")
        try:
            width = base.itemsize
            pos = 0
            for key in sorted(added | removed):
                i = bisect_left(base, key, pos)
                if i > pos:
                    out.frombytes(raw[pos * width : i * width])
                if key in removed:
                    pos = i + 1  # base[i] == key by the invariant
                else:
                    out.append(key)
                    pos = i
            out.frombytes(raw[pos * width :])
        finally:
            raw.release()
        if len(out) > 2 * len(self._filter) // _FILTER_BYTES_PER_KEY and self._fixed_filter_size is None:
            self._set_base(out)  # outgrown: a new filter (O(n), like loading)
        else:
            self._base = out
            self._mark(added)
        added.clear()
        removed.clear()

    def _set_base(self, keys: array[int]) -> None:
        """Replace the base (sorted, unique keys) and build its filter."""
        self._base = keys
        self._filter = bytearray(self._fixed_filter_size or _filter_size(len(keys)))
        self._mark(keys)

    def _mark(self, keys: Iterable[int]) -> None:
        """Set the filter byte of each key, in C-level passes (~0.1 s per million keys)."""
        keys_filter = self._filter
        deque(map(keys_filter.__setitem__, map(operator.mod, keys, repeat(len(keys_filter))), repeat(1)), 0)


class IndexBuilder:
    """Fill a :class:`SuppressionIndex` from batches without holding 10M Python objects at once.

    Keys are appended to one array per (scope, number length). For input in (scope, number) string
    order, as :meth:`Store.load_numbers` and :meth:`Store.load_suppressions` yield it, every such
    bucket is already in numeric
    order and the buckets concatenate into the sorted base without a global sort: within a scope a
    shorter E.164 number is always numerically smaller. Unordered input still works (the offending
    buckets are sorted).
    """

    def __init__(self, index: SuppressionIndex) -> None:
        self._index = index
        self._buckets: dict[int, list[array[int]]] = {}  # scope id -> arrays by len(number)
        #: (scope id, length) -> how many keys of that bucket are known to be strictly increasing.
        self._in_order: dict[tuple[int, int], int] = {}
        self._other: set[tuple[str, str]] = set()

    def feed(self, pairs: Iterable[tuple[str, str]]) -> None:
        index = self._index
        buckets = self._buckets
        match = _E164.fullmatch
        other = self._other
        current: str | None = None
        arrays: list[array[int]] | None = None
        offset = 0
        for scope, number in pairs:
            if scope != current or arrays is None:
                sid = index._scope_id(scope)
                if sid is None:
                    other.add((scope, number))
                    continue
                current = scope
                offset = sid << SCOPE_SHIFT
                arrays = buckets.get(sid)
                if arrays is None:
                    arrays = buckets[sid] = [array("Q") for _ in range(17)]
            if match(number) is None:
                other.add((scope, number))
                continue
            arrays[len(number)].append(offset | int(number))

    def feed_numbers(self, scope: str, numbers: list[str]) -> None:
        """Add ``numbers`` of one scope (the :meth:`Store.load_numbers` path).

        When the whole chunk is canonical E.164 -- checked with C-level passes: ASCII only, one
        "+" per number, and every value having exactly len(number) - 1 digits -- the keys are
        computed and stored without a Python-level loop. Anything else goes row by row.
        """
        sid = self._index._scope_id(scope)
        if sid is None:
            self._other.update(zip(repeat(scope), numbers))
            return
        arrays = self._buckets.get(sid)
        if arrays is None:
            arrays = self._buckets[sid] = [array("Q") for _ in range(17)]
        offset = sid << SCOPE_SHIFT
        lengths = list(map(len, numbers))
        values = _canonical_values(numbers, lengths)
        if values is None:
            self.feed(zip(repeat(scope), numbers))
        elif min(lengths) == max(lengths):
            bucket, at = arrays[lengths[0]], (sid, lengths[0])
            # Order checked on the ints at hand, cheaper than on the array in finish().
            ordered = self._in_order.get(at, 0) == len(bucket)
            ordered = ordered and (not bucket or bucket[-1] < offset | values[0])
            bucket.extend(map(operator.or_, values, repeat(offset)))
            if ordered and all(map(operator.lt, values, islice(values, 1, None))):
                self._in_order[at] = len(bucket)
        else:
            for length, value in zip(lengths, values, strict=True):
                arrays[length].append(value | offset)

    def finish(self) -> SuppressionIndex:
        """Merge everything fed so far into the index and return it."""
        index = self._index
        keys: array[int] = array("Q")
        for sid in sorted(self._buckets):
            arrays = self._buckets[sid]
            for length, bucket in enumerate(arrays):
                if not bucket:
                    continue
                if self._in_order.get((sid, length)) != len(bucket) and not _strictly_increasing(bucket):
                    bucket = _sorted_unique(bucket)
                keys.extend(bucket)
                arrays[length] = array("Q")  # release as we go
        self._buckets.clear()
        self._in_order.clear()
        if index._base or index._added or index._removed:
            index.compact()
            keys = _sorted_unique(chain(index._base, keys))
        index._set_base(keys)
        index._other |= self._other
        self._other = set()
        return index


async def build_index(store: Store, *, batch: int = 100_000) -> tuple[SuppressionIndex, int]:
    """Load every suppression into a new index; returns it with the change id to follow from.

    The change id is read *before* loading, so a change committed during the load is replayed by
    :class:`gateway.store.feed.ChangeFollower` (harmless if the load already saw it).
    """
    last = await store.last_change_id()
    index = SuppressionIndex()
    builder = IndexBuilder(index)
    # Millions of short-lived row tuples would trigger thousands of pointless cyclic-GC passes
    # (about 20% of the load time); none of them can form cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        async for scope, numbers in store.load_numbers(batch):
            builder.feed_numbers(scope, numbers)
    finally:
        if gc_was_enabled:
            gc.enable()
    builder.finish()
    index.change_id = last
    return index, last
