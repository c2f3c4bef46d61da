"""Bulk import: millions of (scope, number) rows suppressed in one transaction, fast.

Phase 1 streams the rows into a temporary table with COPY, in chunks that are each their own short
transaction (an open writing transaction would hold the change feed back while a slow file is
parsed). Phase 2 is one transaction under the exclusive feed lock: an IMPORT event and a suppression
for every number not yet suppressed, so the import enters the feed as one block, in order, and the
imported numbers' live consents ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import anyio

from gateway.store.model import Channel, EventType, utcnow
from gateway.store.postgres.connection import Connection, Database, translated
from gateway.store.postgres.maintenance import vacuum_suppressions
from gateway.store.postgres.writes import CHANNEL, FEED_LOCK
from gateway.store.rows import SUPPRESSION_COLUMNS, to_micros

#: Rows per COPY transaction in phase 1.
CHUNK = 50_000
#: An import adding this many suppressions vacuums the table (see :mod:`.maintenance`).
VACUUM_AFTER = 100_000
#: As an opt-out does, an import ends the live consents of every number imported (issue 16),
#: suppressed before or not.
END_IMPORTED_CONSENTS = (
    "UPDATE consents AS c SET ended = %s FROM (SELECT DISTINCT scope, number FROM"
    " pg_temp.stopgate_import) AS t WHERE c.ended IS NULL AND c.scope = t.scope AND c.number = t.number"
)


def _pairs(rows: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for row in rows:
        scope, number = row  # a malformed row is the caller's ValueError, not a StoreError
        yield scope, number


async def _stage(conn: Connection, rows: Iterable[tuple[str, str]]) -> None:
    """Phase 1: every row into ``pg_temp.stopgate_import``; the iterable is read on a worker thread."""
    await conn.execute("DROP TABLE IF EXISTS pg_temp.stopgate_import")
    await conn.execute(
        'CREATE TEMP TABLE stopgate_import (scope text COLLATE "C" NOT NULL,'
        ' number text COLLATE "C" NOT NULL)'
    )
    pairs = _pairs(rows)
    while chunk := await anyio.to_thread.run_sync(lambda: list(islice(pairs, CHUNK))):
        async with conn.cursor() as cur, cur.copy(
            "COPY pg_temp.stopgate_import (scope, number) FROM STDIN"
        ) as copy:
            for pair in chunk:
                await copy.write_row(pair)


async def import_suppressions(
    db: Database,
    rows: Iterable[tuple[str, str]],
    *,
    channel: Channel,
    reason: str | None,
    operator: str | None,
) -> int:
    """:meth:`Store.import_suppressions` on ``db``: how many numbers became suppressed."""
    async with db.connection("import") as conn:
        try:
            await _stage(conn, rows)
            with anyio.CancelScope(shield=True), translated("import"):
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (FEED_LOCK,))
                    now = to_micros(utcnow())
                    cur = await conn.execute("SELECT coalesce(max(id), 0) FROM events")
                    row = await cur.fetchone()
                    before = row[0] if row else 0
                    cur = await conn.execute(
                        "INSERT INTO events (ts, type, scope, number, channel, operator, reason,"
                        " suppressed) SELECT %s, %s, t.scope, t.number, %s, %s, %s, 1"
                        " FROM (SELECT DISTINCT scope, number FROM pg_temp.stopgate_import) AS t"
                        " WHERE NOT EXISTS (SELECT 1 FROM suppressions AS s"
                        " WHERE s.scope = t.scope AND s.number = t.number)"
                        " ORDER BY t.scope, t.number",
                        (now, EventType.IMPORT.value, channel.value, operator, reason),
                    )
                    added = cur.rowcount
                    await conn.execute(END_IMPORTED_CONSENTS, (now,))
                    if added > 0:
                        await conn.execute(
                            f"INSERT INTO suppressions ({SUPPRESSION_COLUMNS})"
                            " SELECT scope, number, ts, channel, NULL, reason, id FROM events"
                            " WHERE id > %s AND xid = pg_current_xact_id()",
                            (before,),
                        )
                        await conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
            if added >= VACUUM_AFTER:
                await vacuum_suppressions(conn)
            return added
        finally:
            with anyio.CancelScope(shield=True), translated("import (cleaning up)"):
                await conn.execute("DROP TABLE IF EXISTS pg_temp.stopgate_import")
