-- Stopgate PostgreSQL schema, version 4: opaque opt-out link tokens (issue 16).
CREATE TABLE web_tokens (
    token    TEXT   PRIMARY KEY,
    scope    TEXT   NOT NULL,
    number   TEXT   NOT NULL,
    account  TEXT,
    campaign TEXT,
    expires  BIGINT NOT NULL
);
