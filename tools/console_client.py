"""An admin server (API and console) on a store, always ready, and a console sign-in: what the tests
and the console benchmark put in front of a store to drive it over ASGI."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from gateway.config import Config
from gateway.metrics import Metrics
from gateway.ops.admin import AdminContext
from gateway.store import ChangeFollower, Store, SuppressionIndex


def admin_context(store: Store, config: Config | Callable[[], Config], **extra: Any) -> AdminContext:
    """An :class:`AdminContext` on ``store`` and ``config`` (fixed, or a callable returning the one in
    force), fresh metrics, a change follower from the start of the feed and no readiness problem;
    ``extra`` sets (or replaces) its other fields."""
    fields: dict[str, Any] = {
        "store": store,
        "feed": ChangeFollower(store, SuppressionIndex(), after_id=0),
        "metrics": Metrics(),
        "config": config if callable(config) else lambda: config,
        "readiness": lambda: (True, {"checks": {}, "reasons": []}),
    }
    return AdminContext(**(fields | extra))


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    """Sign ``client`` in to the console with ``token`` (its session cookie kept by the client)."""
    form = await client.get("/ui/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    signed = await client.post("/ui/sign-in", data={"csrf": csrf.group(1), "token": token})
    assert signed.status_code == 303, signed.text
