-- Stopgate PostgreSQL schema, version 7: counts for the compliance console, kept as events are written
-- (the same tables and meaning as SQLite's 0007, read by gateway/store/postgres/daily.py).
--
-- The overview must render in well under a second on 50 million events and 10 million suppressions;
-- scanning the log on every page view cannot. Statement-level triggers add each INSERT's events to
-- these tables in the same transaction (so the counts never drift from the log), one upsert per group
-- of the statement, not one per row: a bulk import costs one aggregate, not millions of updates.
--
-- `shard` (the writing backend's pid modulo 16) spreads a day's counts over several rows: the
-- upsert's row lock is held until commit, and without it every process of a fleet writing the same
-- day's blocked messages would queue on one row. Readers sum over the shards.

CREATE TABLE event_days (
    day      integer  NOT NULL,  -- days since 1970-01-01 (UTC)
    scope    text     COLLATE "C" NOT NULL,
    type     text     NOT NULL,
    channel  text     NOT NULL,
    shard    smallint NOT NULL,
    events   bigint   NOT NULL,
    changes  bigint   NOT NULL,  -- events that changed the number's state (events.suppressed set)
    first_id bigint   NOT NULL,  -- an export of a date range reads only this id range of the log
    last_id  bigint   NOT NULL,
    PRIMARY KEY (day, scope, type, channel, shard)
);

-- Opt-outs per (day, scope, keyword) and per (day, scope, campaign); '' for none. An opt-out without
-- a campaign is attributed to the campaign last sent to the number when it is written.
CREATE TABLE optout_keywords (
    day     integer  NOT NULL,
    scope   text     COLLATE "C" NOT NULL,
    keyword text     NOT NULL,
    shard   smallint NOT NULL,
    events  bigint   NOT NULL,
    changes bigint   NOT NULL,
    PRIMARY KEY (day, scope, keyword, shard)
);

CREATE TABLE optout_campaigns (
    day      integer  NOT NULL,
    scope    text     COLLATE "C" NOT NULL,
    campaign text     NOT NULL,
    shard    smallint NOT NULL,
    events   bigint   NOT NULL,
    changes  bigint   NOT NULL,
    PRIMARY KEY (day, scope, campaign, shard)
);

-- The list size per scope, now.
CREATE TABLE suppression_counts (
    scope      text     COLLATE "C" NOT NULL,
    shard      smallint NOT NULL,
    suppressed bigint   NOT NULL,
    PRIMARY KEY (scope, shard)
);

INSERT INTO event_days (day, scope, type, channel, shard, events, changes, first_id, last_id)
SELECT ts / 86400000000, scope, type, channel, 0, count(*), count(suppressed), min(id), max(id)
FROM events GROUP BY 1, 2, 3, 4;

INSERT INTO optout_keywords (day, scope, keyword, shard, events, changes)
SELECT ts / 86400000000, scope, coalesce(keyword, ''), 0, count(*), count(suppressed)
FROM events WHERE type = 'opt_out' GROUP BY 1, 2, 3;

INSERT INTO optout_campaigns (day, scope, campaign, shard, events, changes)
SELECT e.ts / 86400000000, e.scope, coalesce(e.campaign, l.campaign, ''), 0, count(*), count(e.suppressed)
FROM events AS e LEFT JOIN last_campaigns AS l ON l.scope = e.scope AND l.number = e.number
WHERE e.type = 'opt_out' GROUP BY 1, 2, 3;

INSERT INTO suppression_counts (scope, shard, suppressed)
SELECT scope, 0, count(*) FROM suppressions GROUP BY scope;

CREATE FUNCTION stopgate_count_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_shard smallint := pg_backend_pid() % 16;
BEGIN
    -- ORDER BY: concurrent statements take the rows' locks in one order, so they cannot deadlock.
    INSERT INTO event_days AS d (day, scope, type, channel, shard, events, changes, first_id, last_id)
    SELECT n.ts / 86400000000, n.scope, n.type, n.channel, v_shard,
           count(*), count(n.suppressed), min(n.id), max(n.id)
    FROM new_events AS n GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (day, scope, type, channel, shard) DO UPDATE SET
        events = d.events + excluded.events,
        changes = d.changes + excluded.changes,
        first_id = least(d.first_id, excluded.first_id),
        last_id = greatest(d.last_id, excluded.last_id);

    INSERT INTO optout_keywords AS k (day, scope, keyword, shard, events, changes)
    SELECT n.ts / 86400000000, n.scope, coalesce(n.keyword, ''), v_shard, count(*), count(n.suppressed)
    FROM new_events AS n WHERE n.type = 'opt_out' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (day, scope, keyword, shard) DO UPDATE SET
        events = k.events + excluded.events, changes = k.changes + excluded.changes;

    INSERT INTO optout_campaigns AS c (day, scope, campaign, shard, events, changes)
    SELECT n.ts / 86400000000, n.scope, coalesce(n.campaign, l.campaign, ''), v_shard,
           count(*), count(n.suppressed)
    FROM new_events AS n LEFT JOIN last_campaigns AS l ON l.scope = n.scope AND l.number = n.number
    WHERE n.type = 'opt_out' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (day, scope, campaign, shard) DO UPDATE SET
        events = c.events + excluded.events, changes = c.changes + excluded.changes;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_count AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION stopgate_count_events();

CREATE FUNCTION stopgate_count_suppressions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_shard smallint := pg_backend_pid() % 16;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO suppression_counts AS s (scope, shard, suppressed)
        SELECT n.scope, v_shard, count(*) FROM new_rows AS n GROUP BY 1 ORDER BY 1
        ON CONFLICT (scope, shard) DO UPDATE SET suppressed = s.suppressed + excluded.suppressed;
    ELSE
        -- Into this backend's shard too (it may go below zero there): the sum over shards is right.
        INSERT INTO suppression_counts AS s (scope, shard, suppressed)
        SELECT o.scope, v_shard, -count(*) FROM old_rows AS o GROUP BY 1 ORDER BY 1
        ON CONFLICT (scope, shard) DO UPDATE SET suppressed = s.suppressed + excluded.suppressed;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER suppressions_count_add AFTER INSERT ON suppressions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stopgate_count_suppressions();
CREATE TRIGGER suppressions_count_remove AFTER DELETE ON suppressions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stopgate_count_suppressions();
