-- Who made a change from the command line or the admin API: the OS login name (channels cli and
-- import) or the API token ("api:token1"). Kept apart from `account`, which names ESME accounts only.
ALTER TABLE events ADD COLUMN operator text;
