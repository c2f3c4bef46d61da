"""Upkeep after bulk writes."""

from __future__ import annotations

import psycopg
import structlog

from gateway.store.postgres.connection import Connection

log = structlog.get_logger("stopgate.store")


async def vacuum_suppressions(conn: Connection) -> None:
    """VACUUM (ANALYZE) the suppressions after millions of rows were written at once.

    Until a vacuum sets the table's visibility map, every start-up load reads each row's heap page
    as well as the primary key, in key order, that is at random: 10M numbers took ~40 s instead of
    ~7 s here (docs/PERFORMANCE.md). Autovacuum would get there, minutes later. ``conn`` must be in
    autocommit (VACUUM cannot run in a transaction). The rows are committed already, so a failure
    is only logged: autovacuum remains.
    """
    try:
        await conn.execute(b"VACUUM (ANALYZE) suppressions")
    except (psycopg.Error, OSError) as exc:
        log.warning("vacuum after a bulk write failed; autovacuum will do it later", error=str(exc))
