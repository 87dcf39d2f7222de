-- The outbox is keyed by its de-duplication key, in a table without a rowid. A queued job
-- used to be written into five b-trees (the rowid table, the job id, the key, the due index
-- and the wave index), and a release deleted each of its ten invitation and reminder rows
-- from all five; now three. A wave's invitations (and its reminders) sit side by side under
-- the key's prefix. `job_id` stays as the row's name in logs, and is no longer indexed: the
-- worker marks a row by its key.
CREATE TABLE outbox_by_key (
    dedup_key   TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,      -- JSON; never holds an answer
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')),
    due_at      BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    done_at     BIGINT,
    wave_id     TEXT
) WITHOUT ROWID;
INSERT INTO outbox_by_key (dedup_key, job_id, team_id, kind, payload, state, due_at, attempts,
                           lease_until, last_error, created_at, done_at, wave_id)
    SELECT dedup_key, job_id, team_id, kind, payload, state, due_at, attempts,
           lease_until, last_error, created_at, done_at, wave_id
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_by_key RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, due_at);
CREATE INDEX outbox_wave ON outbox (wave_id) WHERE wave_id IS NOT NULL;
