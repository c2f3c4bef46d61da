-- Stopgate store schema, version 1.
--
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC (exact, sortable, compact).
-- Files in this directory are applied in numeric order by gateway/store/sqlite.py inside one
-- BEGIN IMMEDIATE transaction each; PRAGMA user_version records the last applied number.
-- Never edit an applied file: add 0002_*.sql instead.

-- The audit log. Append-only (see the triggers below), and it doubles as the change feed:
-- `suppressed` is 1 / 0 when the event made the number suppressed / unsuppressed and NULL when it
-- changed nothing (HELP, BLOCKED, a repeated STOP...). Ids are never reused because rows are never
-- deleted, and SQLite's single writer makes id order equal to commit order.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    number      TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    account     TEXT,
    keyword     TEXT,
    text        TEXT,
    message_ids TEXT,   -- JSON array of strings, NULL when empty
    reason      TEXT,
    campaign    TEXT,
    suppressed  INTEGER CHECK (suppressed IN (0, 1))
);

-- history(scope, number) and events(number=...).
CREATE INDEX events_number ON events (number, scope);

-- The change feed: changes_since() and last_change_id() touch only state-changing events.
CREATE INDEX events_changes ON events (id) WHERE suppressed IS NOT NULL;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;

-- Current state: one row per suppressed (scope, number), pointing at the event that created it.
CREATE TABLE suppressions (
    scope    TEXT    NOT NULL,
    number   TEXT    NOT NULL,
    since    INTEGER NOT NULL,
    channel  TEXT    NOT NULL,
    keyword  TEXT,
    reason   TEXT,
    event_id INTEGER NOT NULL REFERENCES events (id),
    PRIMARY KEY (scope, number)
) WITHOUT ROWID;

-- Report counters, flushed in batches by the proxy.
CREATE TABLE sent_counts (
    day      TEXT    NOT NULL,  -- YYYY-MM-DD (UTC)
    scope    TEXT    NOT NULL,
    campaign TEXT    NOT NULL,
    sent     INTEGER NOT NULL,
    PRIMARY KEY (day, scope, campaign)
) WITHOUT ROWID;

CREATE TABLE last_campaigns (
    scope    TEXT    NOT NULL,
    number   TEXT    NOT NULL,
    campaign TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    PRIMARY KEY (scope, number)
) WITHOUT ROWID;

-- Written by check_writable() to prove that a commit reaches the disk.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    ts INTEGER NOT NULL
);
