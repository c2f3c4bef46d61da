"""A bulk import ends the live consents of the numbers it imports, as an opt-out does (issue 16),
on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.store import Channel, Consent, Store
from tests.test_store_issue16 import T0, A, B, stop, store  # noqa: F401  (the fixture)

pytestmark = pytest.mark.anyio

C = "+447700900403"


async def test_import_ends_live_consents_of_imported_numbers_only(store: Store) -> None:  # noqa: F811
    await store.opt_out(stop(B, T0))  # B suppressed already: its later consent still ends
    for scope, number in (("acme", A), ("acme", B), ("acme", C), ("other", A)):
        await store.add_consent(
            Consent(scope=scope, number=number, source="api", ts=T0 + timedelta(hours=1)),
            channel=Channel.API,
        )
    added = await store.import_suppressions(
        [("acme", A), ("acme", B), ("acme", A)], channel=Channel.IMPORT, reason="list"
    )
    assert added == 1
    assert await store.live_consent("acme", A) is None
    assert await store.live_consent("acme", B) is None
    [ended] = await store.consents("acme", A)
    assert ended.ended is not None and ended.ended > T0
    # Numbers and scopes outside the import keep theirs.
    assert await store.live_consent("acme", C) is not None
    assert await store.live_consent("other", A) is not None
