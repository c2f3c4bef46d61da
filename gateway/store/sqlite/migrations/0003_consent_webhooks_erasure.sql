-- Stopgate store schema, version 3: consent records, webhook cursors, erasure (issue 16).

-- Proof of consent to marketing. `ended` is set (never cleared) when an opt-out ends the consent.
CREATE TABLE consents (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    scope    TEXT    NOT NULL,
    number   TEXT    NOT NULL,
    source   TEXT    NOT NULL,
    wording  TEXT,
    evidence TEXT,   -- JSON object of strings, NULL when empty
    account  TEXT,
    ended    INTEGER
);

CREATE INDEX consents_number ON consents (number, scope);

-- One durable cursor per configured webhook: the id of the last event delivered or given up on.
CREATE TABLE webhook_cursors (
    name         TEXT    PRIMARY KEY,
    cursor       INTEGER NOT NULL,
    dead_letters INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE webhook_dead_letters (
    webhook  TEXT    NOT NULL,
    event_id INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    error    TEXT    NOT NULL,
    PRIMARY KEY (webhook, event_id)
) WITHOUT ROWID;

-- Erasure: the log stays append-only except for one UPDATE, replacing `text` and / or `reason` by
-- the marker '[redacted]' (gateway.store.model.REDACTED) with every other column unchanged.
DROP TRIGGER events_no_update;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
WHEN NOT (
    NEW.id IS OLD.id AND NEW.ts IS OLD.ts AND NEW.type IS OLD.type AND NEW.scope IS OLD.scope
    AND NEW.number IS OLD.number AND NEW.channel IS OLD.channel AND NEW.account IS OLD.account
    AND NEW.keyword IS OLD.keyword AND NEW.message_ids IS OLD.message_ids
    AND NEW.campaign IS OLD.campaign AND NEW.operator IS OLD.operator
    AND NEW.suppressed IS OLD.suppressed
    AND (NEW.text IS OLD.text OR NEW.text IS '[redacted]')
    AND (NEW.reason IS OLD.reason OR NEW.reason IS '[redacted]')
)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: only redaction of text and reason is allowed');
END;
