"""A bulk import ends the live consents of the numbers it imports, as an opt-out does (issue 16),
on every backend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

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


def test_stopgate_import_ends_the_consent_stopgate_consent_import_recorded(tmp_path: Path) -> None:
    from tests.config_file import write_config
    from tests.test_cli import stopgate, write_csv

    config = write_config(tmp_path / "stopgate.toml", 2776)
    rows = "number,source\n+447700900401,paper\n+447700900402,paper\n"
    consents = write_csv(tmp_path / "consents.csv", rows)
    assert stopgate("consent", "import", consents, "--scope", "acme", config=config).returncode == 0
    assert stopgate("consent", "show", "+447700900401", "--scope", "acme", config=config).returncode == 0
    optouts = write_csv(tmp_path / "optouts.csv", "number\n+447700900401\n")
    imported = stopgate("optouts", "import", optouts, "--scope", "acme", config=config)
    assert imported.returncode == 0, imported.stderr
    shown = stopgate("consent", "show", "+447700900401", "--scope", "acme", config=config)
    assert shown.returncode == 1 and "ended" in shown.stdout
    assert stopgate("consent", "show", "+447700900402", "--scope", "acme", config=config).returncode == 0
