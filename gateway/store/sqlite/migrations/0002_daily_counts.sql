-- Stopgate store schema, version 2: counts for the compliance console, kept as events are written.
--
-- The console's overview must render in well under a second on 50 million events and 10 million
-- suppressions; scanning the log or counting the suppressions on every page view cannot. So every
-- insert into `events` adds one to its row here (a trigger, in the same transaction as the event,
-- so the counts can never drift from the log), and `suppression_counts` follows `suppressions`.

-- One row per (UTC day, scope, type, channel, keyword, campaign): how many events, how many of
-- them changed the number's state (events.suppressed set), and the smallest and largest event id
-- of the day (an export of a date range reads only that id range of the log).
-- keyword / campaign are '' when the event has none (they are part of the key). An opt-out without
-- a campaign is attributed to the campaign last sent to the number (last_campaigns), as the report does.
CREATE TABLE event_days (
    day      INTEGER NOT NULL,  -- days since 1970-01-01 (UTC)
    scope    TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    keyword  TEXT    NOT NULL,
    campaign TEXT    NOT NULL,
    events   INTEGER NOT NULL,
    changes  INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    PRIMARY KEY (day, scope, type, channel, keyword, campaign)
) WITHOUT ROWID;

INSERT INTO event_days (day, scope, type, channel, keyword, campaign, events, changes, first_id, last_id)
SELECT ts / 86400000000, scope, type, channel, coalesce(keyword, ''),
       coalesce(campaign, CASE WHEN type = 'opt_out' THEN (SELECT l.campaign FROM last_campaigns AS l
                WHERE l.scope = events.scope AND l.number = events.number) END, ''),
       count(*), count(suppressed), min(id), max(id)
FROM events GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER events_count_day AFTER INSERT ON events
BEGIN
    INSERT INTO event_days (day, scope, type, channel, keyword, campaign, events, changes, first_id, last_id)
    VALUES (
        NEW.ts / 86400000000, NEW.scope, NEW.type, NEW.channel, coalesce(NEW.keyword, ''),
        coalesce(NEW.campaign, CASE WHEN NEW.type = 'opt_out' THEN (SELECT l.campaign FROM last_campaigns
                 AS l WHERE l.scope = NEW.scope AND l.number = NEW.number) END, ''),
        1, NEW.suppressed IS NOT NULL, NEW.id, NEW.id
    )
    ON CONFLICT (day, scope, type, channel, keyword, campaign) DO UPDATE SET
        events = events + 1,
        changes = changes + excluded.changes,
        first_id = min(first_id, excluded.first_id),
        last_id = max(last_id, excluded.last_id);
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
