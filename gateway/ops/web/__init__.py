"""The public web-link opt-out: ``GET /u/<token>`` shows a page, only its button's POST opts out.

- :mod:`.tokens`: opaque link tokens, issued in memory and written to the store in batches.
- :mod:`.guard`: CSRF values and the per-IP rate limit.
- :mod:`.pages`: the HTML (small, mobile-friendly, no scripts).
- :mod:`.server`: the Starlette app on its own listener (``[web] listen``), apart from the admin API.
"""

from gateway.ops.web.server import WebOptout, WebServer
from gateway.ops.web.tokens import TokenIssuer, new_token

__all__ = ["TokenIssuer", "WebOptout", "WebServer", "new_token"]
