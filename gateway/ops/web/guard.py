"""CSRF protection and the per-IP rate limit of the public page.

CSRF: the GET sets a random nonce in a ``SameSite=Strict`` cookie and puts ``nonce.mac`` in the form,
``mac`` an HMAC of (token, nonce) under a key of this process. A POST counts only if the cookie and
the field carry the same nonce and the MAC is right: a page elsewhere can neither read the cookie
nor forge the MAC, and a link scanner that only GETs never posts at all.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict

CSRF_COOKIE = "sg_csrf"
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")


class Csrf:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def _mac(self, token: str, nonce: str) -> str:
        return hmac.new(self.key, f"{token}.{nonce}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, token: str, cookie: str | None = None) -> tuple[str, str]:
        """(cookie value, form field value) for a page about ``token``.

        The browser's nonce is kept when it has one, so a form shown earlier (a double click, the
        back button) stays valid; a new one is drawn otherwise.
        """
        nonce = cookie if cookie and _NONCE.fullmatch(cookie) else secrets.token_urlsafe(16)
        return nonce, f"{nonce}.{self._mac(token, nonce)}"

    def check(self, token: str, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        nonce, _, mac = field.partition(".")
        return hmac.compare_digest(nonce, cookie) and hmac.compare_digest(mac, self._mac(token, nonce))


class RateLimit:
    """At most ``per_minute`` requests per IP in any sliding minute (a token bucket per IP).

    At most ``max_clients`` addresses are tracked (least recently seen dropped first), so a flood
    of addresses costs bounded memory.
    """

    def __init__(self, per_minute: int, *, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, ip: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(ip, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[ip] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed
