-- Closing the loop: after a release, the manager tells the team what they heard and what they
-- will do, by when. The manager's own words, shared with the team; one per release (window).
-- Nothing here is a seller's answer.
CREATE TABLE commitments (
    commitment_id TEXT PRIMARY KEY,
    manager_id    TEXT NOT NULL,
    window_id     TEXT NOT NULL UNIQUE REFERENCES windows (window_id),
    heard         TEXT NOT NULL,
    will_do       TEXT NOT NULL,
    due_on        TEXT NOT NULL,      -- a date, YYYY-MM-DD
    state         TEXT NOT NULL CHECK (state IN ('open', 'done')),
    shared_at     BIGINT NOT NULL,
    done_at       BIGINT,
    -- The pulse that asked the team whether it happened (the first after due_on).
    asked_in_wave TEXT
);
CREATE INDEX commitments_team ON commitments (manager_id, shared_at);

-- The follow-through item: a pulse that asks it carries the commitment's date; a ballot's
-- answer to it (1 yes, 2 partly, 3 no, 4 not sure) sits in the ballot row with the three
-- scores, and goes with them at release.
ALTER TABLE waves ADD COLUMN follow_through_since TEXT;
ALTER TABLE ballots ADD COLUMN follow_through BIGINT CHECK (follow_through BETWEEN 1 AND 4);
