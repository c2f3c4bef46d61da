"""gateway.numbers.bulk: the CSV import normaliser gives exactly what parse_user_number gives, only faster."""

from __future__ import annotations

import phonenumbers
import phonenumbers.phonenumberutil as pnu
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.numbers import InvalidNumber, parse_user_number
from gateway.numbers.bulk import BulkNormalizer
from gateway.numbers.patterns import stays_in_head, tail_digits

COUNTRIES = ["GB", "US", "DE", "FR", "IT", "AR", "MX", "AU", "IN", "BR", "JP", "NL", "GG", "CA", "RU"]
FORMS = ["+{cc}{n}", "{cc}{n}", "00{cc}{n}", "0{n}", "{n}", "+{cc} {n}", "({n})", "+{cc}0{n}", "0{n}"]


def outcome(func: object, text: str) -> object:
    try:
        return func(text)  # type: ignore[operator]
    except InvalidNumber as exc:
        return ("invalid", str(exc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    country=st.sampled_from(COUNTRIES),
    cc=st.sampled_from(["44", "1", "49", "33", "39", "54", "52", "61", "91", "55", "81", "31", "7", "599"]),
    form=st.sampled_from(FORMS),
    head=st.text("0123456789", min_size=1, max_size=8),
    tails=st.lists(st.text("0123456789", min_size=6, max_size=6), min_size=2, max_size=6),
)
def test_bulk_normalizer_agrees_with_parse_user_number(
    country: str, cc: str, form: str, head: str, tails: list[str]
) -> None:
    bulk = BulkNormalizer(country)
    for tail in tails:
        text = form.format(cc=cc, n=head + tail)
        assert outcome(bulk, text) == outcome(lambda t: parse_user_number(t, country), text), text


def test_dense_uk_mobiles_take_the_fast_path() -> None:
    library = {name: vars(module).copy() for name, module in (("pnu", pnu), ("phonenumbers", phonenumbers))}
    bulk = BulkNormalizer("GB")
    numbers = [f"07700 9{n:05d}" for n in range(0, 100000, 97)] + [
        f"+4479{n:08d}" for n in range(0, 10**8, 99991)
    ]
    for text in numbers:
        assert bulk(text) == parse_user_number(text, "GB")
    assert bulk.fast > 0.95 * len(numbers)
    # Learning reads the library; it replaces nothing in it.
    assert {name: vars(module) for name, module in (("pnu", pnu), ("phonenumbers", phonenumbers))} == library


def test_short_codes_and_odd_spellings_take_the_exact_path() -> None:
    bulk = BulkNormalizer("GB")
    for text in ["88088", "999", "+44 (0) 7700 900401", "٠٧٧٠٠٩٠٠٤٠١", "07700-900-401"]:
        assert outcome(bulk, text) == outcome(lambda t: parse_user_number(t, "GB"), text)
    with pytest.raises(InvalidNumber):
        bulk("hello")


def test_regex_analysis() -> None:
    assert tail_digits(r"7\d{9}") == 9
    assert tail_digits(r"7(?:[1-57-9]\d\d|700[01])\d{5}|80\d{8}") == 5
    assert tail_digits(r"80[08]\d{7}|8001111") == 0
    assert tail_digits(r"(?=7)\d{10}") == 0  # lookarounds are not vouched for
    assert stays_in_head("0|180020", "07700")
    assert not stays_in_head("0|180020", "18")  # "180020" could continue into the tail
    assert stays_in_head(r"([25-9]\d{5})$|0|180020", "07700")
    assert not stays_in_head(r"\d+", "0770")
