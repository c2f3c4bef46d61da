"""Opt-out footer detection and appending."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import can_encode, encode_text
from gateway.text.footer import _KnownBodies, append_footer, footer_separator, has_footer
from gateway.text.gsm import decode_gsm
from gateway.text.segments import split_text
from tests.test_text_segments import check_parts, coded_texts

GSM = DataCoding.SMSC_DEFAULT
IA5 = DataCoding.IA5
LATIN1 = DataCoding.LATIN1
UCS2 = DataCoding.UCS2

FOOTER = "Reply STOP to opt out"
GSM_ALPHABET = decode_gsm(bytes(i for i in range(0x80) if i != 0x1B)) + "\f^{}\\[~]|€"


@pytest.mark.parametrize(
    ("text", "footer", "present"),
    [
        ("Sale today. Reply STOP to opt out", FOOTER, True),
        ("Sale today. reply stop TO OPT OUT", FOOTER, True),
        ("Sale today.\nReply  STOP\tto\r\nopt\xa0out.", FOOTER, True),  # any whitespace run
        ("Reply STOP to opt out, then more text", FOOTER, True),  # anywhere, not only the end
        ("STOP", "  stop  ", True),
        ("STRASSE", "straße", True),  # casefold, not lower
        ("Sale today. Reply STOP", FOOTER, False),
        ("Sale today. ReplySTOP to opt out", FOOTER, False),  # missing whitespace is not folded
        ("", FOOTER, False),
        ("anything", "", True),  # empty footer is always present
        ("", " \n ", True),
    ],
)
def test_has_footer(text: str, footer: str, present: bool) -> None:
    assert has_footer(text, footer) is present


@pytest.mark.parametrize(
    ("text", "separator"),
    [("Hi", " "), ("", ""), ("Hi\n", ""), ("Hi ", ""), ("Hi\r\n", ""), ("Hi\t", ""), ("Hi.", " ")],
)
def test_separator(text: str, separator: str) -> None:
    assert footer_separator(text) == separator
    assert append_footer(text, FOOTER, LATIN1) == (text + separator + FOOTER, LATIN1)


@pytest.mark.parametrize(
    ("text", "footer", "coding", "expected_coding"),
    [
        ("Sale", FOOTER, GSM, GSM),
        ("Sale", "STOP: 0€", GSM, GSM),  # € is in GSM's extension table
        ("Sale", "STOP {x}", GSM, GSM),
        ("Sale", "Стоп", GSM, UCS2),
        ("Sale", "`STOP`", GSM, UCS2),  # backtick is not GSM
        ("Sale", FOOTER, IA5, IA5),
        ("Sale", "STOP 0€", IA5, UCS2),  # moves to UCS2, not to GSM
        ("Café", "Répondez STOP", LATIN1, LATIN1),
        ("Café", "STOP 0€", LATIN1, UCS2),
        ("Sale 😀", FOOTER, UCS2, UCS2),
        ("Sale", "STOP 😀", GSM, UCS2),
        ("Sale\xa0", FOOTER, GSM, UCS2),  # a decoded lone ESC (NBSP) is not GSM either
    ],
)
def test_coding_after_footer(text: str, footer: str, coding: int, expected_coding: int) -> None:
    new_text, new_coding = append_footer(text, footer, coding)
    assert new_coding == expected_coding
    assert new_text == text + footer_separator(text) + footer
    assert encode_text(new_text, new_coding)  # nothing lost or replaced


@pytest.mark.parametrize("coding", [GSM, IA5, LATIN1, UCS2, DataCoding.BINARY_8BIT])
def test_existing_footer_leaves_message_alone(coding: int) -> None:
    text = "Sale! reply stop to opt out"
    assert append_footer(text, FOOTER, coding) == (text, coding)
    assert append_footer(text, "", coding) == (text, coding)


def test_lone_surrogate_cannot_move_to_ucs2() -> None:
    with pytest.raises(ValueError):
        append_footer("Sale", "STOP \ud800", GSM)


def test_footer_can_push_a_single_message_into_two_parts() -> None:
    text = "a" * 150
    new_text, coding = append_footer(text, FOOTER, GSM)
    parts = split_text(new_text, coding)
    assert [len(p) for p in parts] == [153, 150 + 1 + len(FOOTER) - 153]
    assert b"".join(parts) == b"a" * 150 + b" " + FOOTER.encode("ascii")


def test_footer_moving_to_ucs2_changes_the_limits() -> None:
    text = "a" * 100  # one GSM message
    new_text, coding = append_footer(text, "Стоп", GSM)
    assert coding == UCS2
    assert [len(p) // 2 for p in split_text(new_text, coding)] == [67, 38]


# --- properties -------------------------------------------------------------------------------

footers = st.one_of(
    st.sampled_from([FOOTER, "STOP2END", "Txt STOP to end €", "Стоп: ответьте STOP", "STOP 😀"]),
    st.text(alphabet=GSM_ALPHABET, max_size=40),
    st.text(max_size=40),
)


@given(coded_texts, footers, st.sampled_from([8, 16]))
def test_footer_then_split(case: tuple[int, str], footer: str, ref_bits: int) -> None:
    coding, text = case
    new_text, new_coding = append_footer(text, footer, coding)
    if has_footer(text, footer):
        assert (new_text, new_coding) == (text, coding)
    else:
        separator = "" if text == "" or text[-1].isspace() else " "
        assert new_text == text + separator + footer
        assert new_text.endswith(footer)
        assert new_text.count(footer) == 1
        assert has_footer(new_text, footer)
        assert new_coding == (coding if can_encode(new_text, coding) else UCS2)
    check_parts(split_text(new_text, new_coding, ref_bits), new_text, new_coding, ref_bits)


@given(coded_texts, footers)
def test_footer_is_idempotent(case: tuple[int, str], footer: str) -> None:
    coding, text = case
    once = append_footer(text, footer, coding)
    assert append_footer(once[0], footer, once[1]) == once


# --- the octet path remembers campaign bodies ------------------------------------------------------


def test_known_bodies_answer_as_the_octet_path_does() -> None:
    bodies = _KnownBodies(size=8)
    sale = b"Flash sale: 20% off this weekend"
    footered = sale + b" Reply STOP to opt out"
    for _ in range(3):  # the first call computes, the others are answered from memory
        again = bytes(sale)  # a new object each time, as each message's slice of its frame is
        assert bodies.append_footer_octets(again, 0, "Reply STOP to opt out") == footered
        same = bytes(footered)
        # "already there" is the message's own octets, never a remembered object
        assert bodies.append_footer_octets(same, 0, "Reply STOP to opt out") is same
        assert bodies.append_footer_octets(b"\xff" + sale, 0, "Reply STOP to opt out") is None
    assert bodies.hits == 6
    # another footer (a reload) or another coding is another answer
    assert bodies.append_footer_octets(sale, 0, "Text STOP to end") == sale + b" Text STOP to end"
    assert bodies.append_footer_octets(sale, 3, "Reply STOP to opt out") == footered


def test_known_bodies_answer_a_split_only_when_asked() -> None:
    """Past one segment the one-segment answer is None (footer_frame declines); with ``split`` it is
    the whole message with the footer, for footer_split_parts to cut."""
    bodies = _KnownBodies(size=8)
    long_sale = b"Spring sale! " * 11 + b"Shop now."  # 152 octets: 174 with the footer
    footered = long_sale + b" Reply STOP to opt out"
    for _ in range(2):
        assert bodies.append_footer_octets(long_sale, 0, "Reply STOP to opt out") is None
        assert bodies.append_footer_octets(long_sale, 0, "Reply STOP to opt out", split=True) == footered
    assert bodies.hits == 2
    assert bodies.append_footer_octets(long_sale, 3, "") is long_sale  # an empty footer is always there
    # One segment is 140 octets in IA5 and Latin-1, 160 in GSM:
    assert bodies.append_footer_octets(b"a" * 135, 3, "STOP") == b"a" * 135 + b" STOP"  # 140: fits
    assert bodies.append_footer_octets(b"a" * 136, 3, "STOP") is None  # 141
    assert bodies.append_footer_octets(b"a" * 136, 3, "STOP", split=True) == b"a" * 136 + b" STOP"
    assert bodies.append_footer_octets(b"a" * 155, 0, "STOP") == b"a" * 155 + b" STOP"  # GSM: 160


def test_known_bodies_stop_looking_when_bodies_do_not_repeat() -> None:
    bodies = _KnownBodies(size=4, pause=10)
    personal = [b"Hi %d, 20%% off this weekend" % k for k in range(5)]
    for body in personal:
        assert bodies.append_footer_octets(body, 0, "STOP to end") == body + b" STOP to end"
    # full with no hits when the fifth came: emptied, and the next 10 calls skip the lookup
    assert bodies.skip == 10 and len(bodies.answers) == 1
    for _ in range(10):
        assert bodies.append_footer_octets(personal[4], 0, "STOP to end") == personal[4] + b" STOP to end"
    assert bodies.skip == 0 and bodies.hits == 0
    assert bodies.append_footer_octets(personal[4], 0, "STOP to end") == personal[4] + b" STOP to end"
    assert bodies.hits == 1  # looking again after the pause


def test_known_bodies_keep_looking_while_bodies_repeat() -> None:
    bodies = _KnownBodies(size=4, pause=10)
    for k in range(40):
        bodies.append_footer_octets(b"body %d" % (k % 2), 0, "STOP to end")
    assert bodies.skip == 0 and bodies.hits == 38
