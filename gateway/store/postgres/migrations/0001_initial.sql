-- Stopgate store schema on PostgreSQL, version 1 (the same tables and meaning as SQLite's 0001).
--
-- Timestamps are bigint microseconds since the Unix epoch, UTC, as on SQLite (gateway/store/rows.py).
-- Keys use the "C" collation: byte order, as SQLite sorts them and as keyset pages expect.
-- Applied by gateway/store/postgres/schema.py in one transaction under an advisory lock and recorded
-- in schema_migrations. Never edit an applied file: add 0002_*.sql instead.

-- The audit log, append-only (trigger below) and the change feed. `xid` is the writing transaction's
-- id: ids come from a sequence at INSERT, not at COMMIT, so a reader polling "id > last" would skip a
-- row whose transaction commits late. The feed instead reads rows whose xid is below the oldest
-- running transaction (pg_snapshot_xmin), ordered by (xid, id): that set never grows behind a cursor.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    xid         xid8     NOT NULL DEFAULT pg_current_xact_id(),
    ts          bigint   NOT NULL,
    type        text     NOT NULL,
    scope       text     COLLATE "C" NOT NULL,
    number      text     COLLATE "C" NOT NULL,
    channel     text     NOT NULL,
    account     text,
    keyword     text,
    text        text,
    message_ids text,   -- JSON array of strings, NULL when empty
    reason      text,
    campaign    text,
    suppressed  smallint CHECK (suppressed IN (0, 1))
);

CREATE INDEX events_number ON events (number, scope);
CREATE INDEX events_changes ON events (xid, id) WHERE suppressed IS NOT NULL;

CREATE FUNCTION stopgate_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION stopgate_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stopgate_events_append_only();

-- Current state: one row per suppressed (scope, number), pointing at the event that created it.
-- event_id has no FOREIGN KEY (unlike SQLite): PostgreSQL checks one with a trigger per row, which
-- doubled the time of a 1,000,000-row import. Every writer inserts the event and the suppression in
-- one transaction, and events can never be deleted (the triggers above), so it cannot dangle.
CREATE TABLE suppressions (
    scope    text   COLLATE "C" NOT NULL,
    number   text   COLLATE "C" NOT NULL,
    since    bigint NOT NULL,
    channel  text   NOT NULL,
    keyword  text,
    reason   text,
    event_id bigint NOT NULL,
    PRIMARY KEY (scope, number)
);

CREATE TABLE sent_counts (
    day      text   COLLATE "C" NOT NULL,
    scope    text   COLLATE "C" NOT NULL,
    campaign text   COLLATE "C" NOT NULL,
    sent     bigint NOT NULL,
    PRIMARY KEY (day, scope, campaign)
);

CREATE TABLE last_campaigns (
    scope    text   COLLATE "C" NOT NULL,
    number   text   COLLATE "C" NOT NULL,
    campaign text   COLLATE "C" NOT NULL,
    ts       bigint NOT NULL,
    PRIMARY KEY (scope, number)
);

CREATE TABLE heartbeat (
    id integer PRIMARY KEY CHECK (id = 1),
    ts bigint  NOT NULL
);
