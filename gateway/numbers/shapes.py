"""Digit strings to E.164 per *shape*: :func:`gateway.numbers.parse.parse_user_number`, fast, same answers.

libphonenumber costs 30-90 µs per parse. The numbers a proxy or an import sees are dense in a handful
of shapes ("4478xxxxxxxx", "07xxxxxxxxx"), and for most shapes the last few digits are simply copied
into the result. :class:`ShapeNormalizer` proves that once per shape and then builds results by string
concatenation.

A shape is ``(leading '+', head, len(digits), k)`` with ``head = digits[:-k]``. Its first number is
parsed exactly; the shape is remembered as ``result[:-k]`` only if every decision the exact path takes
(libphonenumber's ``parse``, ``is_possible_number_with_reason``, ``format_number(E164)``, and
``is_valid_number`` where our TON rules consult it) is the same for all ``10**k`` tails. Those
decisions read digit *values* only through (a) the country calling code (at most three leading
digits), (b) leading zeros of the national number, and (c) regexes of the published metadata
(``PhoneMetadata``): full matches of ``PhoneNumberDesc.national_number_pattern`` and prefix matches of
``international_prefix``, ``national_prefix_for_parsing`` and ``leading_digits``. The library's own
fixed patterns treat every digit alike, lengths are the same for the whole shape, and the E.164 form
copies the national number's digits. So :func:`_tail_free` walks every string the parse can look at,
taking both branches wherever the library decides something (strip the national prefix or not, strip
the default country code or not, an IDD or not), and requires each check on each string to be decided
by the head alone (:mod:`gateway.numbers.patterns`). The type patterns and ``leading_digits`` of every
region of the country code are checked only when validity can be consulted, which the TON rules do
only when a national and an international reading are both possible (no '+', no leading 0).
Unsupported syntax, a short head, a national number of only zeros, too many strings: the shape is not
remembered, and its numbers take the exact path. Nothing of the library is patched or traced; only its
public functions and metadata are read.

Numbers of 8 digits or fewer (possibly short codes, whose checks are not modelled) always take the
exact path.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberDesc

from gateway.numbers.parse import parse_user_number
from gateway.numbers.patterns import Automaton, Unsupported, automaton, fullmatch_fixed, stays_in_head

__all__ = ["DEFAULT_TAILS", "MAX_SHAPES", "ShapeNormalizer"]

#: Tail lengths tried, longest (most sharing) first.
DEFAULT_TAILS = (6, 4)
#: Shapes remembered per normaliser (a value for each tail length); the table is emptied when full.
MAX_SHAPES = 65536
#: Shorter digit strings may be short codes, whose checks are not modelled: always exact.
_MIN_FAST_DIGITS = 9
#: Cache value of a shape that must take the exact path.
_UNSAFE = ""
#: After this many learning parses, learning stops unless shapes have started to repeat.
_LEARN_PROBATION = 5000
#: A shape whose proof needs more strings than this is not remembered.
_MAX_STRINGS = 24

# What a string is to the parse: a number after '+' (or an IDD), a number as dialled in the default
# region, or a national significant number of a country calling code.
_PLUS, _DIALLED, _NATIONAL = 0, 1, 2


class _Unproven(Exception):
    """A check whose outcome may depend on the tail."""


def _metadata(cc: int, region: str) -> PhoneMetadata | None:
    return PhoneMetadata.metadata_for_region_or_calling_code(cc, region)


def _descs(metadata: PhoneMetadata) -> list[str]:
    """Every number pattern of a region (type descriptions and the general one)."""
    return [
        v.national_number_pattern
        for name, v in vars(metadata).items()
        if not name.startswith("_") and isinstance(v, PhoneNumberDesc) and v.national_number_pattern
    ]


@functools.lru_cache(maxsize=512)
def _validity(cc: int) -> tuple[Automaton, Automaton] | None:
    """What is_valid_number may match for country code ``cc``: the number patterns of every region
    of it (full matches) and their ``leading_digits`` (prefix matches), each as one automaton; None
    if a pattern is unsupported."""
    patterns: set[str] = set()
    leading: set[str] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
        metadata = _metadata(cc, region)
        if metadata is not None:
            patterns.update(_descs(metadata))
            if metadata.leading_digits:
                leading.add(metadata.leading_digits)
    try:
        return automaton(*sorted(patterns)), automaton(*sorted(leading))
    except Unsupported:
        return None


def _general(metadata: PhoneMetadata) -> str | None:
    return metadata.general_desc.national_number_pattern if metadata.general_desc else None


def _leading_cc(s: str) -> int:
    """The country calling code ``s`` starts with (as libphonenumber extracts it), or 0."""
    if s[:1] == "0":
        return 0
    for n in (1, 2, 3):
        if int(s[:n]) in COUNTRY_CODE_TO_REGION_CODE:
            return n
    return 0


def _tail_free(plus: bool, digits: str, k: int, region: str) -> bool:
    """Whether the exact path decides ``digits[:-k] + t`` the same way for every k-digit tail ``t``.

    ``plus`` and ``digits`` are as :func:`gateway.numbers.parse.split_address` gives them.
    """
    tail = digits[-k:]
    home = PhoneMetadata.metadata_for_region(region)
    if home is None or not home.country_code:
        return False
    starts = [(_PLUS, 0, digits)]
    if not plus:
        starts = [(_DIALLED, home.country_code or 0, digits)] + (starts if digits[0] != "0" else [])
    # Validity (is_valid_number) decides between a national and an international reading; there is
    # only one reading after a '+' or of digits starting with 0.
    validity = len(starts) > 1
    seen: set[tuple[int, int, str]] = set()
    todo = list(starts)
    try:
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if len(seen) > _MAX_STRINGS:
                return False
            kind, cc, s = node
            if len(s) <= k or not s.endswith(tail):
                return False
            head = s[:-k]
            if kind == _PLUS:
                todo += _after_plus(head, s)
            elif kind == _DIALLED:
                todo += _as_dialled(head, s, home)
            else:
                todo += _as_national(head, s, cc, home, validity)
    except _Unproven:
        return False
    return True


def _after_plus(head: str, s: str) -> list[tuple[int, int, str]]:
    if len(head) < 3:
        raise _Unproven("the country code may reach the tail")
    n = _leading_cc(s)
    return [(_NATIONAL, int(s[:n]), s[n:])] if n else []


def _prefix(pattern: str | None, head: str, s: str) -> re.Match[str] | None:
    """``re.match(pattern, s)``, once it is shown not to depend on the tail."""
    if not pattern:
        return None
    if not stays_in_head(pattern, head):
        raise _Unproven(pattern)
    return re.match(pattern, s)


def _full(pattern: str | None, head: str, k: int) -> None:
    if pattern and not fullmatch_fixed(pattern, head, k):
        raise _Unproven(pattern)


def _as_dialled(head: str, s: str, home: PhoneMetadata) -> list[tuple[int, int, str]]:
    k = len(s) - len(head)
    home_cc = home.country_code or 0
    out: list[tuple[int, int, str]] = [(_NATIONAL, home_cc, s)]
    idd = _prefix(home.international_prefix, head, s)
    if idd is not None:
        if idd.end() >= len(head):  # the digit after the IDD is read (a country code is not 0...)
            raise _Unproven("IDD")
        out.append((_PLUS, 0, s[idd.end() :]))
    cc = str(home.country_code)
    if s.startswith(cc):
        if len(head) <= len(cc):
            raise _Unproven("the country code may reach the tail")
        _full(_general(home), head, k)  # "viable before"
        out.append((_NATIONAL, home_cc, s[len(cc) :]))
    return out


def _as_national(
    head: str, s: str, cc: int, home: PhoneMetadata, validity: bool
) -> list[tuple[int, int, str]]:
    if not head.strip("0"):
        raise _Unproven("the leading zeros may reach the tail")
    k = len(s) - len(head)
    out: list[tuple[int, int, str]] = []
    if validity:
        # The region is picked by leading_digits or by type; every type's pattern may be matched.
        validity_automata = _validity(cc)
        if validity_automata is None:
            raise _Unproven("unsupported pattern")
        types, leading = validity_automata
        if not types.fixed(head, k) or leading.reads_past(head):
            raise _Unproven("number types or leading digits")
    # National prefix (and carrier code) stripping, with the main region's rules, or the default
    # region's when the number is in its country code.
    rules = [_metadata(cc, phonenumbers.region_code_for_country_code(cc))]
    if cc == home.country_code:
        rules.append(home)
    for metadata in rules:
        if metadata is None:
            continue
        _full(_general(metadata), head, k)  # is the number "viable"?
        match = _prefix(metadata.national_prefix_for_parsing, head, s)
        if match is None:
            continue
        rule = metadata.national_prefix_transform_rule
        if rule and match.groups() and match.groups()[-1] is not None:
            out.append((_NATIONAL, cc, re.sub(match.re, rule, s, count=1)))
        else:
            out.append((_NATIONAL, cc, s[match.end() :]))
    if head[0] == "0":
        # A leading zero is kept ("italian_leading_zero"); our TON rules then parse the E.164 form
        # again to check it is a fixed point.
        out.append((_PLUS, 0, str(cc) + s))
    return out


class ShapeNormalizer:
    """``parse_user_number(digits or "+" + digits, region)`` for ASCII digit strings; same results,
    same exceptions (:class:`gateway.numbers.parse.InvalidNumber`).

    Safe to share between threads: the shape table is a dict that is only ever given whole entries
    (or emptied), and learning reads nothing but the immutable metadata. The counters are statistics
    and may miss an increment under concurrent use.
    """

    def __init__(
        self, region: str, *, tails: tuple[int, ...] = DEFAULT_TAILS, max_shapes: int = MAX_SHAPES
    ) -> None:
        self.region = region
        self.tails = tuple(sorted({t for t in tails if t > 0}, reverse=True))
        self.max_shapes = max_shapes
        self._shapes: dict[tuple[bool, str, int, int], str] = {}
        #: Numbers answered from a learned shape / by a full parse; shapes learned.
        self.fast = 0
        self.exact = 0
        self.learned = 0
        self.learning = True
        self._learns = 0

    def normalize_digits(self, digits: str, plus: bool, text: str | None = None) -> str:
        """``parse_user_number("+" + digits)`` (``plus``) or ``parse_user_number(digits)``, for a
        string of ASCII digits only, as an SMPP address arrives. ``text`` is what the caller was
        given, when it was more than the digits (a full parse reads it)."""
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
        return parse_user_number(text or ("+" + digits if plus else digits), self.region)

    def _learn(self, text: str, plus: bool, digits: str) -> str:
        result = parse_user_number(text, self.region)  # InvalidNumber: nothing learned
        # As parse_user_number reads the digits: "00" is an international prefix.
        split_plus, split_digits = (True, digits[2:]) if not plus and digits[:2] == "00" else (plus, digits)
        shapes = self._shapes
        if len(shapes) + len(self.tails) > self.max_shapes:
            shapes.clear()
        n = len(digits)
        for k in self.tails:
            key = (plus, digits[:-k], n, k)
            if key in shapes:
                continue
            template = _UNSAFE
            tail = digits[-k:]
            if (
                len(result) > k
                and result.endswith(tail)
                and _tail_free(split_plus, split_digits, k, self.region)
            ):
                template = result[:-k]
            shapes[key] = template
            self.learned += 1
        return result
