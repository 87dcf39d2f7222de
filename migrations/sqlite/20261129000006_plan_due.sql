-- When the planner must next look at each team: its next slot opening or digest time. An idle
-- tick then reads only this index, however large the org. Anything that can move those times
-- (the roster, a cadence, a person's time zone) sets due_at to 0 and bumps version, so a
-- planner that read the older version does not overwrite the change.
CREATE TABLE plan_due (
    manager_id TEXT PRIMARY KEY,
    due_at     BIGINT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX plan_due_at ON plan_due (due_at);
INSERT INTO plan_due (manager_id, due_at)
    SELECT DISTINCT manager_id, 0 FROM memberships WHERE left_at IS NULL;

-- The waves a tick must close: found through an index, not by reading every open wave.
CREATE INDEX waves_open_closing ON waves (closes_at) WHERE state = 'open';

-- A window's waves, read by every close and release: without it each release read every wave
-- ever opened, several times over.
CREATE INDEX waves_window ON waves (window_id, state);
