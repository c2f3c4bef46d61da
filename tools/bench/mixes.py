"""The benchmark's traffic: the message mixes, the accounts that send them, the destination numbers
(fresh ones, and a pool suppressed in every store), and the pre-encoded submit_sm frames the load
generator sends."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from gateway.smpp.codec import encode_fields
from gateway.smpp.constants import DataCoding
from gateway.smpp.pdu import BindTransceiver, SubmitSm
from gateway.text.encoding import encode_text

HEADER: Final = struct.Struct(">IIII")
SEQ: Final = struct.Struct(">I")

#: The scope every benchmark account uses, and the footer of the marketing account.
SCOPE: Final = "acme"
FOOTER: Final = "Reply STOP to opt out"
#: (system_id, password) of the two accounts in the benchmark config.
MARKETING_ACCOUNT: Final = ("acme", "acmepw")
TRANSACTIONAL_ACCOUNT: Final = ("bulk", "bulkpw")

#: Destination numbers are 12 digits with TON 1 (international): "4478" + 8 digits for fresh numbers,
#: "4471" + 8 digits for stored (suppressed) ones. Both are possible UK mobile numbers.
FRESH_PREFIX: Final = "4478"
STORED_PREFIX: Final = "4471"
NUMBER_SPACE: Final = 10**8
#: The first POOL numbers of the stored range are suppressed in every store the benchmark builds,
#: including the "empty" one; the "suppressed" mix addresses its share to them.
SUPPRESSED_POOL: Final = 20_000

#: The first sequence number of the submits (1 is the bind).
FIRST_SEQ: Final = 2


@dataclass(frozen=True, slots=True)
class Mix:
    """One kind of traffic: what is sent, by which account, and what the proxy does with it."""

    name: str
    account: tuple[str, str]
    text: str
    data_coding: int
    #: Fraction of messages addressed to suppressed numbers (refused by the proxy).
    suppressed_share: float = 0.0
    #: What the proxy does with each message.
    proxy_does: str = ""
    #: The body carries the destination's 12 digits in place of ``PERSONAL_MARK``: every body differs.
    personal: bool = False


#: Where a personalised body carries its destination's digits.
PERSONAL_MARK: Final = "#" * 12
_SALE = "Flash sale at Acme: 20% off everything this weekend with code SAVE20. Shop at acme.example/sale"
MIXES: Final[dict[str, Mix]] = {
    mix.name: mix
    for mix in (
        Mix("marketing", MARKETING_ACCOUNT, _SALE, DataCoding.SMSC_DEFAULT, 0.0,
            "check + footer appended (1 segment, frame spliced)"),
        Mix("personal", MARKETING_ACCOUNT,
            f"Acme: 20% off everything this weekend for {PERSONAL_MARK}, code SAVE20. Shop at acme.example",
            DataCoding.SMSC_DEFAULT, 0.0, "as marketing, every body different (no repeated campaign text)",
            personal=True),
        Mix("footered", MARKETING_ACCOUNT, f"{_SALE} {FOOTER}", DataCoding.SMSC_DEFAULT, 0.0,
            "check; footer already there: original bytes forwarded"),
        Mix("long", MARKETING_ACCOUNT,
            "Acme weekend sale: 20% off all shoes, bags and accessories, 30% off outerwear, free delivery "
            "on orders over 40 GBP. Code SAVE20 at acme.example/sale",
            DataCoding.SMSC_DEFAULT, 0.0, "check + footer -> 2 concatenated parts, sent one after the other"),
        Mix("ucs2", MARKETING_ACCOUNT, "Скидка 20% в Acme до воскресенья! Код SAVE20", DataCoding.UCS2, 0.0,
            "check + footer in UCS2 (1 segment)"),
        Mix("transactional", TRANSACTIONAL_ACCOUNT,
            "Your Acme verification code is 482913. It expires in 10 minutes.",
            DataCoding.SMSC_DEFAULT, 0.0, "transactional account: no check, no footer"),
        Mix("suppressed", MARKETING_ACCOUNT, _SALE, DataCoding.SMSC_DEFAULT, 0.10,
            "as marketing, 10% addressed to suppressed numbers (refused 0x400)"),
    )
}  # fmt: skip
DEFAULT_MIXES: Final = tuple(MIXES)


# --- destination numbers and frames ----------------------------------------------------------------


def fresh_number(i: int) -> str:
    """The i-th never-suppressed destination (12 digits, no "+": TON 1 carries it)."""
    return f"{FRESH_PREFIX}{i % NUMBER_SPACE:08d}"


def stored_number(i: int) -> str:
    """The i-th number of the stored range (the store of size N holds 0..N-1, at least the pool)."""
    return f"{STORED_PREFIX}{i % NUMBER_SPACE:08d}"


def is_suppressed_slot(k: int, share: float) -> bool:
    """Whether message k of a run goes to a suppressed number (spread evenly, ``share`` of them)."""
    return share > 0 and int((k + 1) * share) > int(k * share)


def template_frame(mix: Mix) -> tuple[bytes, int]:
    """The mix's submit_sm frame (sequence 0) and the offset of its 12 destination digits."""
    pdu = SubmitSm(
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="Acme",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=fresh_number(0),
        data_coding=mix.data_coding,
        short_message=encode_text(mix.text, mix.data_coding),
    )
    frame = encode_fields(pdu, 0)
    offset = frame.index(fresh_number(0).encode("ascii") + b"\x00")
    return frame, offset


def build_frames(
    mix: Mix,
    count: int,
    *,
    first_seq: int,
    number_base: int,
    suppressed_base: int,
    slot_offset: int = 0,
    stride: int = 1,
    number_pool: int = 0,
) -> tuple[bytearray, int, int]:
    """``count`` frames of ``mix`` back to back, for one bind: (buffer, frame length, suppressed count).

    Frame k carries sequence ``first_seq + k`` and the destination of global message
    ``slot_offset + k * stride`` (binds take every ``stride``-th message). Only the 4 sequence octets and
    the 12 destination digits differ from the template encoded once with the gateway codec. Fresh
    destinations are all different unless ``number_pool`` is set: then they cycle through that many.
    A personal mix also writes the destination's digits over the body's ``PERSONAL_MARK``.
    """
    frame, at = template_frame(mix)
    mark_at = frame.index(PERSONAL_MARK.encode("ascii")) if mix.personal else -1
    length = len(frame)
    buf = bytearray(frame * count)
    pack_seq = SEQ.pack_into
    share = mix.suppressed_share
    suppressed = 0
    for k in range(count):
        pos = k * length
        pack_seq(buf, pos + 12, first_seq + k)
        slot = slot_offset + k * stride
        if is_suppressed_slot(slot, share):
            number = stored_number((suppressed_base + slot) % SUPPRESSED_POOL)
            suppressed += 1
        else:
            number = fresh_number((number_base + slot) % number_pool if number_pool else number_base + slot)
        digits = number.encode("ascii")
        buf[pos + at : pos + at + 12] = digits
        if mark_at >= 0:
            buf[pos + mark_at : pos + mark_at + 12] = digits
    return buf, length, suppressed


def bind_frame(system_id: str, password: str, sequence_number: int = 1) -> bytes:
    return encode_fields(BindTransceiver(system_id=system_id, password=password), sequence_number)
