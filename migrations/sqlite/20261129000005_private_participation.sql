-- Participation as private as answers, and deletion that reaches the disk (issue 10).

-- The wave a per-person job belongs to, so that all of a wave's rows can be deleted once its
-- window is released: afterwards nothing in the outbox says who was sent what.
ALTER TABLE outbox ADD COLUMN wave_id TEXT;
UPDATE outbox SET wave_id = json_extract(payload, '$.wave_id')
WHERE json_extract(payload, '$.wave_id') IS NOT NULL;
CREATE INDEX outbox_wave ON outbox (wave_id) WHERE wave_id IS NOT NULL;
DELETE FROM outbox WHERE wave_id IN (
    SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'released'
);

-- The Slack messages (invitations and reminders) of an open wave, so that all of them are
-- updated alike when it closes. No person: a channel and a message timestamp.
CREATE TABLE wave_messages (
    wave_id TEXT NOT NULL REFERENCES waves (wave_id),
    channel TEXT NOT NULL,
    ts      TEXT NOT NULL,
    PRIMARY KEY (wave_id, channel, ts)
);

-- How many releases had been made when deleted answer rows were last made unreadable on disk
-- (WAL truncated on SQLite, answer tables rewritten on PostgreSQL); `trustpulse audit` checks it
-- against the releases.
CREATE TABLE disk_scrubs (
    scope             TEXT PRIMARY KEY,
    releases_scrubbed BIGINT NOT NULL
);

-- A count under k is never stored: a held window keeps only that it is held.
UPDATE windows SET held_respondents = NULL;

-- A release that never reached k stores no respondent count (SQLite cannot drop NOT NULL in
-- place, so the table is rebuilt).
CREATE TABLE releases_new (
    window_id   TEXT PRIMARY KEY REFERENCES windows (window_id),
    manager_id  TEXT NOT NULL,
    window_end  BIGINT NOT NULL,
    respondents BIGINT,             -- NULL when the window never reached k
    invited     BIGINT NOT NULL,
    body        TEXT NOT NULL,      -- JSON
    released_at BIGINT NOT NULL
);
INSERT INTO releases_new
SELECT window_id, manager_id, window_end,
       CASE WHEN body LIKE '%"not_enough_responses"%' THEN NULL ELSE respondents END,
       invited, body, released_at
FROM releases;
DROP TABLE releases;
ALTER TABLE releases_new RENAME TO releases;
CREATE INDEX releases_team ON releases (manager_id, window_end);
