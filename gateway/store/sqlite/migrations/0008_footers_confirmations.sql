-- Issue 15: state every process on the store shares, and keeps across restarts. Times are microseconds
-- since the epoch, UTC.
-- When each (scope, number) last got the opt-out footer (footer_mode = "first_in_days").
CREATE TABLE footers_sent (
    scope TEXT NOT NULL,
    number TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (scope, number)
) WITHOUT ROWID;
CREATE INDEX footers_sent_at ON footers_sent (sent_at);
-- The confirmation loop guard: when each (scope, number, kind) was last sent a reply (claimed before
-- sending, so that two processes do not both answer a repeated keyword within the window).
CREATE TABLE confirmations_sent (
    scope TEXT NOT NULL,
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (scope, number, kind)
) WITHOUT ROWID;
CREATE INDEX confirmations_sent_at ON confirmations_sent (sent_at);
