"""The admin API fuzzed from its own OpenAPI document (schemathesis): every answer is documented, none
is a 5xx, and what the document forbids the server refuses (issue 18, item 12).

Bounded so that it runs in the suite: a few examples per operation, with and without a token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, checks

from gateway.ops.admin import AdminServer
from gateway.ops.admin.ratelimit import AuthFailures
from gateway.store import MemoryStore
from tests.stack import make_config
from tools.console_client import admin_context

TOKEN = "s3cret-token"
ADMIN: dict[str, Any] = {"admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN]}}
EXAMPLES = 25


def admin_app() -> Any:
    """The API on a memory store (the config's storage path is never opened)."""
    store = MemoryStore()
    anyio.run(store.open)
    config = make_config(Path(tempfile.gettempdir()), 2775, ADMIN)
    context = admin_context(
        store,
        config,
        # Unauthenticated examples must meet the 401, not the rate limit (tested on its own).
        auth_failures=AuthFailures(limit=1_000_000),
    )
    return AdminServer(context).asgi


schema = schemathesis.openapi.from_asgi("/openapi.json", admin_app())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_openapi_document(case: Case) -> None:
    # Not positive_data_acceptance: whether a string is a dialable number (or 2023-02-30 a date)
    # is beyond what a JSON schema can say, so a schema-valid value may rightly be answered 400.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[checks.positive_data_acceptance],
    )


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_a_token_the_api_keeps_to_its_document_too(case: Case) -> None:
    """No token, or a wrong one: every token route answers its documented 401, never a 5xx."""
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        case.call_and_validate(headers=headers, excluded_checks=[checks.positive_data_acceptance])
