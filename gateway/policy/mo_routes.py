"""Which account an MO belongs to: the address the subscriber texted, not the bind it arrived on.

When several accounts share one upstream account, the SMSC hands an MO to whichever receiver bind of
that system_id it likes; the account that owns the number texted must get it (its opt-out scope, its
keywords, its ESME). :class:`MoRouter` maps a destination address, and optionally the first word of
the text (a shared short code: "Text FINISH to 60006"), to an account's ``system_id``.

Addresses are compared as digits: ``+``, a leading ``00`` and any separators are dropped, so
``+447700900000``, ``00447700900000`` and ``447700900000`` are one number. Write long numbers in
international form; short codes as they are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["MoRoute", "MoRouter", "address_key", "first_word"]


@dataclass(frozen=True, slots=True)
class MoRoute:
    """MOs to ``number`` (whose first word is ``keyword``, when set) belong to ``account``."""

    number: str
    account: str
    keyword: str | None = None


def address_key(address: str) -> str:
    """``address`` as the router compares it: its digits, without an international ``00`` prefix."""
    digits = "".join(ch for ch in address if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    return digits


def first_word(text: str) -> str:
    """The first word of ``text``, case-folded, punctuation around it dropped ("" if none)."""
    for raw in text.split(None, 3)[:3]:
        word = unicodedata.normalize("NFKC", raw).casefold()
        start, end = 0, len(word)
        while start < end and not word[start].isalnum():
            start += 1
        while end > start and not word[end - 1].isalnum():
            end -= 1
        if start < end:
            return word[start:end]
    return ""


class MoRouter:
    """A lookup by number, then by keyword: one dict access per MO (two for a shared short code)."""

    def __init__(self, routes: Iterable[MoRoute]) -> None:
        #: number key -> (account for any text, {keyword: account})
        self._numbers: dict[str, tuple[str | None, dict[str, str]]] = {}
        for route in routes:
            key = address_key(route.number)
            if not key:
                raise ValueError(f"MO route number {route.number!r} has no digits")
            fallback, by_keyword = self._numbers.get(key, (None, {}))
            if route.keyword is None:
                if fallback is not None and fallback != route.account:
                    raise ValueError(
                        f"number {route.number!r} is routed to both {fallback!r} and {route.account!r}"
                    )
                fallback = route.account
            else:
                word = first_word(route.keyword)
                if not word or word != route.keyword.strip().casefold():
                    raise ValueError(f"MO route keyword {route.keyword!r} must be one word")
                known = by_keyword.get(word)
                if known is not None and known != route.account:
                    raise ValueError(
                        f"number {route.number!r} keyword {route.keyword!r} is routed to both "
                        f"{known!r} and {route.account!r}"
                    )
                by_keyword[word] = route.account
            self._numbers[key] = (fallback, by_keyword)

    def __bool__(self) -> bool:
        return bool(self._numbers)

    def route(self, destination: str, text: str | None) -> str | None:
        """The account of an MO to ``destination`` with ``text`` (None: no rule matches)."""
        entry = self._numbers.get(address_key(destination))
        if entry is None:
            return None
        fallback, by_keyword = entry
        if by_keyword and text:
            account = by_keyword.get(first_word(text))
            if account is not None:
                return account
        return fallback
