-- Stopgate store schema, version 4: opaque opt-out link tokens (issue 16).
-- A token is random (never derived from the number) and expires; expired rows are kept so the page
-- can say "expired" (410) rather than "unknown" (404).
CREATE TABLE web_tokens (
    token    TEXT    PRIMARY KEY,
    scope    TEXT    NOT NULL,
    number   TEXT    NOT NULL,
    account  TEXT,
    campaign TEXT,
    expires  INTEGER NOT NULL
) WITHOUT ROWID;
