"""``Stopgate-Signature: t=<unix>,v1=<hex>[,v1=<hex>]``: HMAC-SHA256 over ``t + "." + body``.

The timestamp is signed with the body so a captured request cannot be replayed later (receivers
reject old ``t``); two ``v1`` values are sent while a secret is rotated, one per secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "Stopgate-Signature"
#: How old a signature a receiver should accept, seconds (the usual five minutes).
DEFAULT_TOLERANCE = 300


def _digest(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secrets: Sequence[str], body: bytes, t: int) -> str:
    """The header value for ``body`` sent at unix time ``t``, one ``v1`` per secret."""
    return ",".join([f"t={t}", *(f"v1={_digest(s, t, body)}" for s in secrets)])


def verify(header: str, body: bytes, secret: str, now: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """True if ``header`` carries a valid ``v1`` for ``secret`` and ``t`` is within ``tolerance``."""
    t: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            t = int(value)
        elif key == "v1":
            candidates.append(value)
    if t is None or abs(now - t) > tolerance:
        return False
    expected = _digest(secret, t, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
