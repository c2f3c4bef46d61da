-- When the MO behind an SMS event arrived (integer microseconds, UTC; NULL on other channels), so the
-- console can show how long honouring a STOP took: ts - received_at.
ALTER TABLE events ADD COLUMN received_at INTEGER;

-- The console reads the delays of the most recent SMS opt-outs of a period (newest first, bounded):
-- this partial index holds exactly those rows, in that order, with the columns the query needs.
CREATE INDEX events_honour ON events (ts, scope, received_at)
    WHERE type = 'opt_out' AND received_at IS NOT NULL;

-- Erasure may still only redact text and reason: address and received_at are frozen like the rest.
DROP TRIGGER events_no_update;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
WHEN NOT (
    NEW.id IS OLD.id AND NEW.ts IS OLD.ts AND NEW.type IS OLD.type AND NEW.scope IS OLD.scope
    AND NEW.number IS OLD.number AND NEW.channel IS OLD.channel AND NEW.account IS OLD.account
    AND NEW.keyword IS OLD.keyword AND NEW.message_ids IS OLD.message_ids
    AND NEW.campaign IS OLD.campaign AND NEW.operator IS OLD.operator
    AND NEW.address IS OLD.address AND NEW.received_at IS OLD.received_at
    AND NEW.suppressed IS OLD.suppressed
    AND (NEW.text IS OLD.text OR NEW.text IS '[redacted]')
    AND (NEW.reason IS OLD.reason OR NEW.reason IS '[redacted]')
)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: only redaction of text and reason is allowed');
END;
