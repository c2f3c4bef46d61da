-- Stopgate PostgreSQL schema, version 3: consent records, webhook cursors, erasure (issue 16).
-- The same tables as the SQLite store's 0003 (timestamps are integer microseconds, as there).

CREATE TABLE consents (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts       BIGINT NOT NULL,
    scope    TEXT   NOT NULL,
    number   TEXT   NOT NULL,
    source   TEXT   NOT NULL,
    wording  TEXT,
    evidence TEXT,
    account  TEXT,
    ended    BIGINT
);
CREATE INDEX consents_number ON consents (number, scope);

CREATE TABLE webhook_cursors (
    name         TEXT   PRIMARY KEY,
    cursor       BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated      BIGINT NOT NULL
);

CREATE TABLE webhook_dead_letters (
    webhook  TEXT   NOT NULL,
    event_id BIGINT NOT NULL,
    ts       BIGINT NOT NULL,
    error    TEXT   NOT NULL,
    PRIMARY KEY (webhook, event_id)
);

-- Erasure: an UPDATE may only replace text and / or reason by '[redacted]'; everything else about
-- an event stays, DELETE and TRUNCATE stay refused.
CREATE FUNCTION stopgate_events_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.id IS NOT DISTINCT FROM OLD.id AND NEW.xid IS NOT DISTINCT FROM OLD.xid
        AND NEW.ts IS NOT DISTINCT FROM OLD.ts
        AND NEW.type IS NOT DISTINCT FROM OLD.type AND NEW.scope IS NOT DISTINCT FROM OLD.scope
        AND NEW.number IS NOT DISTINCT FROM OLD.number AND NEW.channel IS NOT DISTINCT FROM OLD.channel
        AND NEW.account IS NOT DISTINCT FROM OLD.account AND NEW.keyword IS NOT DISTINCT FROM OLD.keyword
        AND NEW.message_ids IS NOT DISTINCT FROM OLD.message_ids
        AND NEW.campaign IS NOT DISTINCT FROM OLD.campaign
        AND NEW.operator IS NOT DISTINCT FROM OLD.operator
        AND NEW.suppressed IS NOT DISTINCT FROM OLD.suppressed
        AND (NEW.text IS NOT DISTINCT FROM OLD.text OR NEW.text = '[redacted]')
        AND (NEW.reason IS NOT DISTINCT FROM OLD.reason OR NEW.reason = '[redacted]')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are append-only: only redaction of text and reason is allowed (% refused)', TG_OP;
END
$$;

DROP TRIGGER events_no_update ON events;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION stopgate_events_redaction_only();
