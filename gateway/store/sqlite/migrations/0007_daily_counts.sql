-- Stopgate store schema, version 2: counts for the compliance console, kept as events are written.
--
-- The console's overview must render in well under a second on 50 million events and 10 million
-- suppressions; scanning the log or counting the suppressions on every page view cannot. So every
-- insert into `events` adds one to its rows here (triggers, in the same transaction as the event,
-- so the counts never drift from the log), and `suppression_counts` follows `suppressions`.
-- Each table is keyed by as few columns as its question needs: a period's totals then read a few
-- thousand rows, not one row per combination of every column.

-- Per (UTC day, scope, type, channel): how many events, how many of them changed the number's
-- state (events.suppressed set), and the smallest and largest event id of the day (an export of a
-- date range reads only that id range of the log).
CREATE TABLE event_days (
    day      INTEGER NOT NULL,  -- days since 1970-01-01 (UTC)
    scope    TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    events   INTEGER NOT NULL,
    changes  INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    PRIMARY KEY (day, scope, type, channel)
) WITHOUT ROWID;

-- Opt-outs (type opt_out) per (day, scope, keyword) and per (day, scope, campaign); '' for none.
-- An opt-out without a campaign is attributed to the campaign last sent to the number
-- (last_campaigns) when it is written, as `stopgate report` does.
CREATE TABLE optout_keywords (
    day     INTEGER NOT NULL,
    scope   TEXT    NOT NULL,
    keyword TEXT    NOT NULL,
    events  INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    PRIMARY KEY (day, scope, keyword)
) WITHOUT ROWID;

CREATE TABLE optout_campaigns (
    day      INTEGER NOT NULL,
    scope    TEXT    NOT NULL,
    campaign TEXT    NOT NULL,
    events   INTEGER NOT NULL,
    changes  INTEGER NOT NULL,
    PRIMARY KEY (day, scope, campaign)
) WITHOUT ROWID;

INSERT INTO event_days (day, scope, type, channel, events, changes, first_id, last_id)
SELECT ts / 86400000000, scope, type, channel, count(*), count(suppressed), min(id), max(id)
FROM events GROUP BY 1, 2, 3, 4;

INSERT INTO optout_keywords (day, scope, keyword, events, changes)
SELECT ts / 86400000000, scope, coalesce(keyword, ''), count(*), count(suppressed)
FROM events WHERE type = 'opt_out' GROUP BY 1, 2, 3;

INSERT INTO optout_campaigns (day, scope, campaign, events, changes)
SELECT ts / 86400000000, scope,
       coalesce(campaign, (SELECT l.campaign FROM last_campaigns AS l
                           WHERE l.scope = events.scope AND l.number = events.number), ''),
       count(*), count(suppressed)
FROM events WHERE type = 'opt_out' GROUP BY 1, 2, 3;

CREATE TRIGGER events_count_day AFTER INSERT ON events
BEGIN
    INSERT INTO event_days (day, scope, type, channel, events, changes, first_id, last_id)
    VALUES (NEW.ts / 86400000000, NEW.scope, NEW.type, NEW.channel, 1, NEW.suppressed IS NOT NULL,
            NEW.id, NEW.id)
    ON CONFLICT (day, scope, type, channel) DO UPDATE SET
        events = events + 1,
        changes = changes + excluded.changes,
        first_id = min(first_id, excluded.first_id),
        last_id = max(last_id, excluded.last_id);
END;

CREATE TRIGGER events_count_optout AFTER INSERT ON events WHEN NEW.type = 'opt_out'
BEGIN
    INSERT INTO optout_keywords (day, scope, keyword, events, changes)
    VALUES (NEW.ts / 86400000000, NEW.scope, coalesce(NEW.keyword, ''), 1, NEW.suppressed IS NOT NULL)
    ON CONFLICT (day, scope, keyword) DO UPDATE SET
        events = events + 1, changes = changes + excluded.changes;
    INSERT INTO optout_campaigns (day, scope, campaign, events, changes)
    VALUES (
        NEW.ts / 86400000000, NEW.scope,
        coalesce(NEW.campaign, (SELECT l.campaign FROM last_campaigns AS l
                                WHERE l.scope = NEW.scope AND l.number = NEW.number), ''),
        1, NEW.suppressed IS NOT NULL
    )
    ON CONFLICT (day, scope, campaign) DO UPDATE SET
        events = events + 1, changes = changes + excluded.changes;
END;

-- The list size per scope, now.
CREATE TABLE suppression_counts (
    scope      TEXT    NOT NULL PRIMARY KEY,
    suppressed INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO suppression_counts (scope, suppressed) SELECT scope, count(*) FROM suppressions GROUP BY scope;

CREATE TRIGGER suppressions_count_add AFTER INSERT ON suppressions
BEGIN
    INSERT INTO suppression_counts (scope, suppressed) VALUES (NEW.scope, 1)
    ON CONFLICT (scope) DO UPDATE SET suppressed = suppressed + 1;
END;

CREATE TRIGGER suppressions_count_remove AFTER DELETE ON suppressions
BEGIN
    UPDATE suppression_counts SET suppressed = suppressed - 1 WHERE scope = OLD.scope;
END;
