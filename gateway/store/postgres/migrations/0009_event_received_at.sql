-- When the MO behind an SMS event arrived (bigint microseconds, UTC; NULL on other channels), so the
-- console can show how long honouring a STOP took: ts - received_at. The same as SQLite's 0009.
ALTER TABLE events ADD COLUMN received_at bigint;

-- The console reads the delays of the most recent SMS opt-outs of a period (newest first, bounded):
-- this partial index holds exactly those rows, in that order, with the columns the query needs.
CREATE INDEX events_honour ON events (ts, scope, received_at)
    WHERE type = 'opt_out' AND received_at IS NOT NULL;

-- Erasure may still only redact text and reason: address and received_at are frozen like the rest.
CREATE OR REPLACE FUNCTION stopgate_events_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
        AND NEW.address IS NOT DISTINCT FROM OLD.address
        AND NEW.received_at IS NOT DISTINCT FROM OLD.received_at
        AND NEW.suppressed IS NOT DISTINCT FROM OLD.suppressed
        AND (NEW.text IS NOT DISTINCT FROM OLD.text OR NEW.text = '[redacted]')
        AND (NEW.reason IS NOT DISTINCT FROM OLD.reason OR NEW.reason = '[redacted]')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are append-only: only redaction of text and reason is allowed (% refused)', TG_OP;
END
$$;
