"""Bulk phone-number normalisation for CSV imports: :func:`gateway.numbers.parse_user_number`, fast.

libphonenumber costs 30-90 µs per parse, which makes a million-row import take over a minute. Imported
lists are dense in a handful of number shapes ("07xxx xxxxxx", "+447xxxxxxxxx"), and for most shapes the
last few digits are simply copied into the result. :class:`BulkNormalizer` learns that once per *shape*
and then builds results by string concatenation, without ever giving a different answer than
``parse_user_number``.

How "the last k digits are copied" is established, exactly rather than by sampling
    A shape key is ``(leading '+', digits[:-k], len(digits))`` with the tail ``T = digits[-k:]``. The
    first number of a shape is parsed with ``parse_user_number`` while the libphonenumber helpers that
    look at digit *values* are traced (``_match_national_number``, ``_maybe_strip_national_prefix_
    carrier_code``, ``_parse_prefix_as_idd``, ``_region_code_for_number_from_list``,
    ``_extract_country_code``, ``_set_italian_leading_zeros_for_phone_number``). Everything else on the
    path depends only on lengths, on the first digits, or copies digits verbatim (E.164 formatting is
    "+" + country code + national number). The shape is cached only if every traced decision provably
    has the same outcome for all ``10**k`` tails:

    * a whole-string pattern match is tail-independent if the pattern's language is ``L'·\\d{k}``
      (checked on the regex syntax tree), or if no path through the pattern even reaches the tail (then
      it never matches);
    * a prefix match (national prefix, international prefix, leading digits) is tail-independent if no
      path through the pattern reaches the tail (a small interpreter over the syntax tree follows every
      path the backtracking engine could take);
    * country-code extraction and leading-zero handling must read only characters before the tail.

    Anything unsupported (lookarounds, back-references, numbers of 8 digits or fewer, which may be short
    codes, non-ASCII digits, unusual spellings) simply takes the exact path. The tracing replaces module
    attributes of ``phonenumbers.phonenumberutil`` for the duration of one parse; the wrappers pass
    results through unchanged, so a concurrent caller elsewhere still gets correct answers (its calls
    can only make the check more conservative). If the library changes shape, learning is disabled and
    every row takes the exact path.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from gateway.numbers import _SEPARATORS, parse_user_number

__all__ = ["BulkNormalizer"]

#: Tail lengths tried, longest (most sharing) first.
DEFAULT_TAILS = (6, 4)
#: Shorter digit strings may be short codes, whose checks are not traced: always exact.
_MIN_FAST_DIGITS = 9
_FAST_TEXT = re.compile(r"\+?[0-9]+", re.ASCII)
_ASCII_DIGITS = frozenset(range(0x30, 0x3A))
_UNSAFE = ""  # cache value of a shape that must take the exact path
#: After this many traced parses, learning stops unless shapes have started to repeat.
_LEARN_PROBATION = 5000

_TRACED = (
    "_match_national_number",
    "_maybe_strip_national_prefix_carrier_code",
    "_parse_prefix_as_idd",
    "_region_code_for_number_from_list",
    "_extract_country_code",
    "_set_italian_leading_zeros_for_phone_number",
)


class _Unsafe(Exception):
    """A pattern construct (or a path) that the tail analysis does not vouch for."""


# -- regex analysis ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _tree(pattern: str) -> Any:
    return sre_parse.parse(pattern)


def _class_has_all_digits(items: Any) -> bool:
    covered: set[int] = set()
    for op, av in items:
        if op is sre_c.NEGATE:
            return False
        if op is sre_c.LITERAL:
            covered.add(av)
        elif op is sre_c.RANGE:
            covered.update(range(av[0], av[1] + 1))
        elif op is sre_c.CATEGORY and av is sre_c.CATEGORY_DIGIT:
            covered |= _ASCII_DIGITS
    return covered >= _ASCII_DIGITS


def _tail_node(op: Any, av: Any) -> tuple[int, bool]:
    """(t, exact): the node's language is L'·D^t; exact means it is exactly D^t (D ⊇ ASCII digits)."""
    if op is sre_c.IN:
        return (1, True) if _class_has_all_digits(av) else (0, False)
    if op is sre_c.MAX_REPEAT or op is sre_c.MIN_REPEAT:
        lo, hi, sub = av
        t, exact = _tail_seq(sub)
        if exact:
            return t * lo, lo == hi or t == 0
        return (t, False) if lo >= 1 else (0, False)
    if op is sre_c.SUBPATTERN:
        return _tail_seq(av[3])
    if op is sre_c.BRANCH:
        results = [_tail_seq(alt) for alt in av[1]]
        t = min(r[0] for r in results)
        return t, all(exact and n == t for n, exact in results)
    if op is sre_c.LITERAL:
        return 0, False
    raise _Unsafe(str(op))


def _tail_seq(seq: Any) -> tuple[int, bool]:
    total = 0
    for op, av in reversed(list(seq)):
        t, exact = _tail_node(op, av)
        total += t
        if not exact:
            return total, False
    return total, True


@functools.lru_cache(maxsize=4096)
def tail_digits(pattern: str) -> int:
    """Largest k such that ``fullmatch(pattern, s + t)`` does not depend on the k-digit tail ``t``.

    0 when the pattern uses anything beyond literals, classes, groups, alternation and repeats.
    """
    try:
        return _tail_seq(_tree(pattern))[0]
    except (_Unsafe, re.error, RecursionError):
        return 0


def _char_ok(op: Any, av: Any, c: int) -> bool:
    if op is sre_c.LITERAL:
        return bool(c == av)
    if op is sre_c.NOT_LITERAL:
        return bool(c != av)
    if op is sre_c.ANY:
        return c != 0x0A
    negate = False
    hit = False
    for item_op, item in av:
        if item_op is sre_c.NEGATE:
            negate = True
        elif item_op is sre_c.LITERAL:
            hit = hit or c == item
        elif item_op is sre_c.RANGE:
            hit = hit or item[0] <= c <= item[1]
        elif item_op is sre_c.CATEGORY and item is sre_c.CATEGORY_DIGIT:
            hit = hit or chr(c).isdecimal()
        elif item_op is sre_c.CATEGORY and item is sre_c.CATEGORY_NOT_DIGIT:
            hit = hit or not chr(c).isdecimal()
        else:
            raise _Unsafe(str(item_op))
    return hit != negate


def _run(seq: Any, positions: set[int], head: str) -> set[int]:
    for op, av in seq:
        if not positions:
            break
        positions = _step(op, av, positions, head)
    return positions


def _step(op: Any, av: Any, positions: set[int], head: str) -> set[int]:
    """Every position a path can reach after this node; _Unsafe if a path reads beyond ``head``."""
    if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.IN, sre_c.ANY):
        consumed: set[int] = set()
        for p in positions:
            if p >= len(head):
                raise _Unsafe("reaches the tail")
            if _char_ok(op, av, ord(head[p])):
                consumed.add(p + 1)
        return consumed
    if op is sre_c.BRANCH:
        reached: set[int] = set()
        for alt in av[1]:
            reached |= _run(alt, set(positions), head)
        return reached
    if op is sre_c.SUBPATTERN:
        return _run(av[3], positions, head)
    if op is sre_c.MAX_REPEAT or op is sre_c.MIN_REPEAT:
        lo, hi, sub = av
        out: set[int] = set()
        seen: set[int] = set()
        current = set(positions)
        i = 0
        while True:
            if i >= lo:
                if i > lo and current <= seen:
                    break
                out |= current
                seen |= current
            if (hi is not sre_c.MAXREPEAT and i >= hi) or not current:
                break
            current = _run(sub, current, head)
            i += 1
        return out
    if op is sre_c.AT:
        if av in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING):
            return {p for p in positions if p == 0}
        if av in (sre_c.AT_END, sre_c.AT_END_STRING):
            # The whole string is longer than ``head`` (the tail is never empty): no end here.
            return set()
    raise _Unsafe(str(op))


@functools.lru_cache(maxsize=65536)
def stays_in_head(pattern: str, head: str) -> bool:
    """True if no way of matching ``pattern`` at the start of ``head + tail`` reads the tail."""
    try:
        _run(_tree(pattern), {0}, head)
    except (_Unsafe, re.error, RecursionError):
        return False
    return True


# -- tracing -------------------------------------------------------------------------------------


@dataclass
class _Trace:
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


_trace_lock = threading.Lock()
_active: list[_Trace] = []


def _make_wrapper(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any) -> Any:
        for trace in _active:
            trace.calls.append((name, args))
        return original(*args)

    wrapper.__stopgate_traced__ = True  # type: ignore[attr-defined]
    return wrapper


def _phonenumberutil() -> Any:
    import phonenumbers.phonenumberutil as pnu

    return pnu


@contextmanager
def _tracing() -> Iterator[_Trace | None]:
    """Trace the helpers listed in ``_TRACED``; yields None if the library does not have them."""
    pnu = _phonenumberutil()
    originals = {name: getattr(pnu, name, None) for name in _TRACED}
    functions: dict[str, Callable[..., Any]] = {
        name: f for name, f in originals.items() if f is not None and callable(f)
    }
    if len(functions) != len(_TRACED):
        yield None
        return
    trace = _Trace()
    with _trace_lock:
        patched = {
            name: f if getattr(f, "__stopgate_traced__", False) else _make_wrapper(name, f)
            for name, f in functions.items()
        }
        for name, f in patched.items():
            setattr(pnu, name, f)
        _active.append(trace)
        try:
            yield trace
        finally:
            _active.remove(trace)
            for name, f in functions.items():
                setattr(pnu, name, f)


def _head(text: str, k: int) -> str:
    """The part of a traced string before the tail; _Unsafe if the tail is not at its end."""
    if len(text) <= k:
        raise _Unsafe("string shorter than the tail")
    return text[:-k]


def _check_call(name: str, args: tuple[Any, ...], tail: str) -> None:
    k = len(tail)
    if name == "_match_national_number":
        number, desc, allow_prefix = args
        pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
        if not pattern:
            return  # no pattern: always False
        if allow_prefix or not number.endswith(tail):
            raise _Unsafe(name)
        if tail_digits(pattern) >= k or stays_in_head(pattern, _head(number, k)):
            return
        raise _Unsafe(name)
    if name == "_maybe_strip_national_prefix_carrier_code":
        number, metadata = args
        pattern = metadata.national_prefix_for_parsing
        if not number or not pattern:
            return
        if not number.endswith(tail) or not stays_in_head(pattern, _head(number, k)):
            raise _Unsafe(name)
        return
    if name == "_parse_prefix_as_idd":
        idd_pattern, number = args
        head = _head(number, k)
        if not number.endswith(tail) or not stays_in_head(idd_pattern.pattern, head):
            raise _Unsafe(name)
        match = idd_pattern.match(number)
        if match is not None and match.end() >= len(head):  # the digit after the IDD is read
            raise _Unsafe(name)
        return
    if name == "_region_code_for_number_from_list":
        numobj, regions = args
        from phonenumbers import PhoneMetadata, national_significant_number

        nsn = national_significant_number(numobj)
        head = _head(nsn, k)
        if not nsn.endswith(tail):
            raise _Unsafe(name)
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
            leading = getattr(metadata, "leading_digits", None)
            if leading is not None and not stays_in_head(leading, head):
                raise _Unsafe(name)
        return
    if name == "_extract_country_code":
        (number,) = args
        if len(number) - k < 3 or not number.endswith(tail):  # reads up to 3 leading digits
            raise _Unsafe(name)
        return
    if name == "_set_italian_leading_zeros_for_phone_number":
        nsn, _numobj = args
        head = _head(nsn, k)
        if not nsn.endswith(tail) or not head or head[0] == "0":
            raise _Unsafe(name)  # leading zeros: the zero run might reach the tail
        return
    raise _Unsafe(name)


# -- the normaliser ------------------------------------------------------------------------------


class BulkNormalizer:
    """``parse_user_number(text, default_country)`` for many rows; same results, same exceptions.

    Not thread-safe (one importer at a time); the shape cache grows with the number of shapes seen.
    """

    def __init__(self, default_country: str, *, tails: tuple[int, ...] = DEFAULT_TAILS) -> None:
        self.default_country = default_country
        self.tails = tuple(sorted({t for t in tails if t > 0}, reverse=True))
        self._shapes: dict[tuple[bool, str, int, int], str] = {}
        #: Rows answered from a learned shape / by a full parse / shapes learned.
        self.fast = 0
        self.exact = 0
        self.learned = 0
        self.learning = True
        self._learns = 0

    def __call__(self, text: str) -> str:
        return self.normalize(text)

    def normalize(self, text: str) -> str:
        """E.164 for ``text``; raises :class:`gateway.numbers.InvalidNumber` like parse_user_number."""
        s = text.strip()
        compact = s.translate(_SEPARATORS)
        if _FAST_TEXT.fullmatch(compact) is None:
            self.exact += 1
            return parse_user_number(text, self.default_country)
        plus = s.startswith("+")
        digits = compact.lstrip("+")  # "(+44 ...)": the '+' is not first, parse_user_number drops it
        return self.normalize_digits(digits, plus, text)

    def normalize_digits(self, digits: str, plus: bool, text: str | None = None) -> str:
        """``normalize("+" + digits)`` (``plus``) or ``normalize(digits)``, for a string of ASCII digits
        only, as an SMPP address arrives: no separators to strip, no pattern to match. ``text`` is what
        :meth:`normalize` was given, when it was more than the digits (a full parse reads it)."""
        n = len(digits)
        if n >= _MIN_FAST_DIGITS and (plus or n - 2 >= _MIN_FAST_DIGITS or digits[:2] != "00"):
            shapes = self._shapes
            missing = False
            for k in self.tails:
                template = shapes.get((plus, digits[:-k], n, k))
                if template:
                    self.fast += 1
                    return template + digits[-k:]
                if template is None:
                    missing = True
            if missing and self.learning:
                if self._learns < _LEARN_PROBATION or self.fast >= self._learns:
                    self._learns += 1
                    self.exact += 1
                    return self._learn(text or ("+" + digits if plus else digits), plus, digits)
                self.learning = False  # shapes are not repeating here: stop paying for learning
        self.exact += 1
        return parse_user_number(text or ("+" + digits if plus else digits), self.default_country)

    def _learn(self, text: str, plus: bool, digits: str) -> str:
        with _tracing() as trace:
            result = parse_user_number(text, self.default_country)  # InvalidNumber: nothing learned
        if trace is None:
            self.learning = False
            return result
        n = len(digits)
        for k in self.tails:
            key = (plus, digits[:-k], n, k)
            if key in self._shapes:
                continue
            tail = digits[-k:]
            template = _UNSAFE
            if n - k >= 3 and result.endswith(tail) and len(result) > k:
                try:
                    for name, args in trace.calls:
                        _check_call(name, args, tail)
                    template = result[:-k]
                except (_Unsafe, AttributeError, TypeError, ValueError):
                    template = _UNSAFE
            self._shapes[key] = template
            self.learned += 1
        return result
