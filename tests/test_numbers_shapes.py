"""The per-shape normaliser agrees with libphonenumber (parse + format_number(E164), validity included),
and the pattern analysis it rests on agrees with :mod:`re`."""

from __future__ import annotations

import re
import threading

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumberDesc, PhoneNumberFormat, PhoneNumberType

from gateway.numbers import patterns
from gateway.numbers.parse import InvalidNumber, parse_user_number
from gateway.numbers.patterns import Unsupported, automaton, fullmatch_fixed, stays_in_head
from gateway.numbers.shapes import ShapeNormalizer
from gateway.numbers.wire import address_normalizer

REGIONS = ["GB", "US", "FR", "DE", "IN", "BR", "AR", "MX", "IT", "JP", "AU", "GG", "CN", "KR", "AG", "SM"]
TYPES = [PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP]
DIGITS = "0123456789"


def outcome(func: object, *args: object) -> object:
    try:
        return func(*args)  # type: ignore[operator]
    except InvalidNumber as exc:
        return ("invalid", str(exc))


@st.composite
def shaped_numbers(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(region, a prefix of one of its example numbers + random digits, several tails of one length):
    numbers of one shape, valid and invalid ones alike."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    example = example or phonenumbers.example_number(region)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    keep = draw(st.integers(1, len(nsn)))
    length = len(nsn) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    body = nsn[:keep] + draw(st.text(DIGITS, min_size=max(0, length - keep), max_size=max(0, length - keep)))
    k = draw(st.sampled_from([4, 6]))
    head = body[:-k] if len(body) > k else body
    tails = draw(st.lists(st.text(DIGITS, min_size=k, max_size=k), min_size=2, max_size=5))
    return region, str(example.country_code) + "|" + head, tails


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_numbers(), st.sampled_from(["+{cc}{n}", "{cc}{n}", "00{cc}{n}", "0{n}", "{n}"]))
def test_shapes_agree_with_libphonenumber(case: tuple[str, str, list[str]], form: str) -> None:
    region, cc_head, tails = case
    cc, head = cc_head.split("|")
    fast = ShapeNormalizer(region)
    for tail in tails:
        text = form.format(cc=cc, n=head + tail)
        plus = text.startswith("+")
        digits = text.lstrip("+")
        got = outcome(fast.normalize_digits, digits, plus)
        assert got == outcome(parse_user_number, text, region), text
        if plus and isinstance(got, str):
            # The reading is libphonenumber's own, and so is its validity.
            num = phonenumbers.parse(text)
            assert got == phonenumbers.format_number(num, PhoneNumberFormat.E164)
            assert phonenumbers.is_valid_number(phonenumbers.parse(got)) == phonenumbers.is_valid_number(num)
        if plus or text.startswith("0"):
            continue
        # TON 0 on the wire: the same answer as parse_user_number, None where it refuses.
        wire = address_normalizer(region)(digits, 0)
        assert wire == (got if isinstance(got, str) else None), text


def test_learned_shapes_answer_most_numbers() -> None:
    fast = ShapeNormalizer("GB")
    for n in range(0, 10**8, 9973):
        digits = f"4478{n:08d}"
        assert fast.normalize_digits(digits, True) == "+" + digits
    assert fast.fast > 0.95 * (fast.fast + fast.exact)
    for n in range(0, 10**6, 997):
        assert fast.normalize_digits(f"07700{n:06d}", False) == f"+447700{n:06d}"


def test_shape_table_is_bounded() -> None:
    fast = ShapeNormalizer("US", max_shapes=8)
    for n in range(2015550100, 2015550100 + 10**7, 100003):
        assert outcome(fast.normalize_digits, str(n), False) == outcome(parse_user_number, str(n), "US")
        assert len(fast._shapes) <= 8


def test_threads_share_one_normalizer() -> None:
    fast = ShapeNormalizer("GB")
    numbers = [f"447{n:09d}" for n in range(0, 10**9, 1_000_003)]
    expected = {d: outcome(parse_user_number, "+" + d, "GB") for d in numbers}
    failures: list[str] = []

    def work(offset: int) -> None:
        for d in numbers[offset:] + numbers[:offset]:
            if outcome(fast.normalize_digits, d, True) != expected[d]:
                failures.append(d)

    threads = [threading.Thread(target=work, args=(i * 97,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --- the pattern analysis ---------------------------------------------------------------------------


def _metadata_patterns() -> tuple[list[str], list[str]]:
    full: set[str] = set()
    prefix: set[str] = set()
    for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
            if metadata is None:
                continue
            for value in vars(metadata).values():
                if isinstance(value, PhoneNumberDesc) and value.national_number_pattern:
                    full.add(value.national_number_pattern)
            for name in ("national_prefix_for_parsing", "international_prefix", "leading_digits"):
                if getattr(metadata, name):
                    prefix.add(getattr(metadata, name))
    return sorted(full), sorted(prefix)


FULL, PREFIX = _metadata_patterns()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FULL + PREFIX), st.text(DIGITS, max_size=14))
def test_automaton_accepts_what_re_fullmatches(pattern: str, s: str) -> None:
    a = automaton(pattern)  # every metadata pattern is supported
    assert a.accepts_here(a.run(s)) == (re.fullmatch(pattern, s) is not None,)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(FULL),
    st.text(DIGITS, max_size=10),
    st.lists(st.text(DIGITS, min_size=4, max_size=4), min_size=2, max_size=8),
)
def test_fullmatch_fixed_means_every_tail_agrees(pattern: str, head: str, tails: list[str]) -> None:
    if fullmatch_fixed(pattern, head, 4):
        assert len({re.fullmatch(pattern, head + t) is None for t in tails}) == 1


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PREFIX),
    st.text(DIGITS, min_size=1, max_size=8),
    st.lists(st.text(DIGITS, min_size=1, max_size=6), min_size=2, max_size=8),
)
def test_stays_in_head_means_the_match_ignores_the_tail(pattern: str, head: str, tails: list[str]) -> None:
    if stays_in_head(pattern, head):
        found = {(m.span(), m.groups()) if (m := re.match(pattern, head + t)) else None for t in tails}
        assert len(found) == 1


def test_automaton_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = FULL[len(FULL) // 2]
    expected = [re.fullmatch(pattern, f"{n:010d}") is not None for n in range(0, 10**10, 10**7 + 7)]
    monkeypatch.setattr(patterns, "MAX_MEMO", 50)
    a = patterns.Automaton((pattern,))
    got = [a.accepts_here(a.run(f"{n:010d}"))[0] for n in range(0, 10**10, 10**7 + 7)]
    assert got == expected
    assert len(a._steps) + len(a._outcomes) + len(a._live) <= 50


@pytest.mark.parametrize("pattern", [r"(?=7)\d{10}", r"\w+", r"[^0]", r"(?P<x>1)", r"7\b"])
def test_unsupported_syntax_is_refused(pattern: str) -> None:
    with pytest.raises(Unsupported):
        automaton(pattern)
    assert not fullmatch_fixed(pattern, "7", 4)
    assert not stays_in_head(pattern, "77")
