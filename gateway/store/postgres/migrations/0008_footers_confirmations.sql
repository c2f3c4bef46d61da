-- Issue 15: state every process on the store shares, and keeps across restarts. Times are microseconds
-- since the epoch, UTC.
-- When each (scope, number) last got the opt-out footer (footer_mode = "first_in_days").
CREATE TABLE footers_sent (
    scope   text   COLLATE "C" NOT NULL,
    number  text   COLLATE "C" NOT NULL,
    sent_at bigint NOT NULL,
    PRIMARY KEY (scope, number)
);
CREATE INDEX footers_sent_at ON footers_sent (sent_at);
-- The confirmation loop guard: when each (scope, number, kind) was last sent a reply (claimed before
-- sending, so that two processes do not both answer a repeated keyword within the window).
CREATE TABLE confirmations_sent (
    scope   text   COLLATE "C" NOT NULL,
    number  text   COLLATE "C" NOT NULL,
    kind    text   COLLATE "C" NOT NULL,
    sent_at bigint NOT NULL,
    PRIMARY KEY (scope, number, kind)
);
CREATE INDEX confirmations_sent_at ON confirmations_sent (sent_at);
