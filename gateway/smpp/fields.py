"""What PDU bodies are made of (§3.2, §4, §5.3): field kinds, the field runs several PDUs share, and
the values that are not plain strings or integers (TLVs, submit_multi destinations and failures).

A body table is a tuple of :data:`Field`: (name, kind, maximum size including the NUL for C-octet
strings). The PDU classes (:mod:`gateway.smpp.pdu`) list theirs in ``_BODY``; the codec reads and writes
bodies from those tables alone.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

FieldKind = Literal["cstr", "u8", "sm", "dests", "unsuccess"]
#: (field name, kind, maximum size including the NUL for C-octet strings)
Field = tuple[str, FieldKind, int]


class Tlv(NamedTuple):
    """One optional parameter: tag, raw value (§3.2.4.1)."""

    tag: int
    value: bytes


class Dest(NamedTuple):
    """A submit_multi destination (§4.5.1.1): an SME address (flag 1) or a distribution list (flag 2)."""

    dest_flag: int
    ton: int = 0
    npi: int = 0
    address: str = ""  #: SME address, or the distribution list name when dest_flag is 2


class UnsuccessSme(NamedTuple):
    """A destination that submit_multi could not deliver to, with its error (§4.5.2)."""

    ton: int
    npi: int
    address: str
    status: int


def find_tlv(tlvs: tuple[Tlv, ...], tag: int) -> bytes | None:
    """The value of the first TLV with this tag, or None."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv.value
    return None


def replace_tlv(tlvs: tuple[Tlv, ...], tag: int, value: bytes | None) -> tuple[Tlv, ...]:
    """TLVs with ``tag`` set to ``value`` in place (appended if absent), or removed when value is None."""
    if value is None and all(tlv.tag != tag for tlv in tlvs):
        return tlvs  # nothing to remove: the same tuple, so callers can tell nothing changed
    out: list[Tlv] = []
    done = False
    for tlv in tlvs:
        if tlv.tag == tag:
            if value is not None and not done:
                out.append(Tlv(tag, value))
            done = True
        else:
            out.append(tlv)
    if not done and value is not None:
        out.append(Tlv(tag, value))
    return tuple(out)


# --- Field runs shared by several PDUs (§4.4 - §4.12) -------------------------------------------

SM_TAIL: tuple[Field, ...] = (
    ("esm_class", "u8", 1),
    ("protocol_id", "u8", 1),
    ("priority_flag", "u8", 1),
    ("schedule_delivery_time", "cstr", 17),
    ("validity_period", "cstr", 17),
    ("registered_delivery", "u8", 1),
    ("replace_if_present_flag", "u8", 1),
    ("data_coding", "u8", 1),
    ("sm_default_msg_id", "u8", 1),
    ("short_message", "sm", 254),
)
SOURCE: tuple[Field, ...] = (
    ("source_addr_ton", "u8", 1),
    ("source_addr_npi", "u8", 1),
    ("source_addr", "cstr", 21),
)
DEST: tuple[Field, ...] = (
    ("dest_addr_ton", "u8", 1),
    ("dest_addr_npi", "u8", 1),
    ("destination_addr", "cstr", 21),
)
#: data_sm (§4.7.1) and alert_notification (§4.12.1) allow longer addresses: Var. max 65.
SOURCE_65: tuple[Field, ...] = (
    ("source_addr_ton", "u8", 1),
    ("source_addr_npi", "u8", 1),
    ("source_addr", "cstr", 65),
)
DEST_65: tuple[Field, ...] = (
    ("dest_addr_ton", "u8", 1),
    ("dest_addr_npi", "u8", 1),
    ("destination_addr", "cstr", 65),
)

#: message_id, a C-Octet String of at most 65 octets with its NUL (§4.4.2, §4.6.2, §4.7.2): the
#: responses relayed without decoding are a header and this alone.
MESSAGE_ID_SIZE = 65
