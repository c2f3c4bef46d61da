-- Issue 14: which account (and session) a message id belongs to, so that its delivery receipts reach
-- that account whichever bind of a shared upstream account the SMSC delivers them on, also after a
-- restart. Kept until expires_at (microseconds since the epoch, UTC; [mo] receipt_ttl, 72 h default).
CREATE TABLE receipt_routes (
    upstream TEXT NOT NULL,
    message_id TEXT NOT NULL,
    account TEXT NOT NULL,
    session TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (upstream, message_id)
) WITHOUT ROWID;
CREATE INDEX receipt_routes_expiry ON receipt_routes (expires_at);
