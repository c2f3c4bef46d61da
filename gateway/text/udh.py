"""User Data Header (3GPP TS 23.040 §9.2.3.24): splitting it off and the concatenation IEs.

A UDH is ``UDHL`` followed by information elements ``IEI IEL value``. Concatenation uses IEI 0x00
(``05 00 03 ref total seq``, 8-bit reference) or IEI 0x08 (``06 08 04 refhi reflo total seq``,
16-bit reference); both occur in the wild and may share the UDH with other IEs (ports, etc.).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IEI_CONCAT_8", "IEI_CONCAT_16", "Concat", "concat_udh", "parse_concat", "split_udh"]

#: Concatenated short messages, 8-bit reference number (§9.2.3.24.1).
IEI_CONCAT_8 = 0x00
#: Concatenated short messages, 16-bit reference number (§9.2.3.24.8).
IEI_CONCAT_16 = 0x08


@dataclass(frozen=True, slots=True)
class Concat:
    """One part of a concatenated message: ``seq`` (from 1) of ``total`` sharing ``reference``."""

    reference: int
    total: int
    seq: int
    ref_bits: int = 8

    def __post_init__(self) -> None:
        if self.ref_bits not in (8, 16):
            raise ValueError(f"ref_bits must be 8 or 16, not {self.ref_bits}")
        if not 0 <= self.reference < 1 << self.ref_bits:
            raise ValueError(f"reference {self.reference} does not fit in {self.ref_bits} bits")
        if not 1 <= self.seq <= self.total <= 255:
            raise ValueError(f"need 1 <= seq <= total <= 255, not {self.seq}/{self.total}")

    def to_udh(self) -> bytes:
        """The complete UDH (length octet included) carrying only this IE."""
        if self.ref_bits == 8:
            return bytes((5, IEI_CONCAT_8, 3, self.reference, self.total, self.seq))
        ref_hi, ref_lo = divmod(self.reference, 256)
        return bytes((6, IEI_CONCAT_16, 4, ref_hi, ref_lo, self.total, self.seq))


def split_udh(short_message: bytes) -> tuple[bytes, bytes]:
    """Split a UDHI short_message into (UDH including its length octet, payload).

    Raises ValueError if the message is empty or the UDH length overruns it.
    """
    if not short_message:
        raise ValueError("short_message is empty; no UDH length octet")
    end = 1 + short_message[0]
    if end > len(short_message):
        raise ValueError(f"UDH length {end - 1} overruns the {len(short_message)}-octet message")
    return short_message[:end], short_message[end:]


def _from_ie(iei: int, value: bytes) -> Concat | None:
    if iei == IEI_CONCAT_8 and len(value) == 3:
        reference, total, seq = value
        bits = 8
    elif iei == IEI_CONCAT_16 and len(value) == 4:
        reference = int.from_bytes(value[:2], "big")
        total, seq = value[2], value[3]
        bits = 16
    else:
        return None
    if not 1 <= seq <= total:
        return None  # §9.2.3.24.1: the receiving entity ignores the whole IE
    return Concat(reference, total, seq, bits)


def parse_concat(udh: bytes) -> Concat | None:
    """The concatenation IE of a UDH (length octet included), or None if it has none.

    Other IEs are skipped; an invalid concat IE (seq 0 or above total) is ignored; if several are
    present the last one wins (§9.2.3.24). A truncated IE ends the walk.
    """
    if not udh:
        return None
    end = min(len(udh), 1 + udh[0])
    found: Concat | None = None
    pos = 1
    while pos + 2 <= end:
        iei, length = udh[pos], udh[pos + 1]
        pos += 2
        if pos + length > end:
            break
        found = _from_ie(iei, udh[pos : pos + length]) or found
        pos += length
    return found


def concat_udh(reference: int, total: int, seq: int, ref_bits: int = 8) -> bytes:
    """UDH for part ``seq`` of ``total``; raises ValueError for out-of-range values."""
    return Concat(reference, total, seq, ref_bits).to_udh()
