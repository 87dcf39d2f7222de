-- Scheduling at scale.

-- The bot's DM channel with each person, so repeat invitations need one Slack call, not two
-- (conversations.open is a tier-3 method: about 50 calls a minute).
ALTER TABLE people ADD COLUMN dm_channel TEXT;

-- A 429 pauses the whole workspace until this instant, for every replica.
ALTER TABLE installations ADD COLUMN paused_until BIGINT;

-- Planner decisions that must happen once, whichever replica ticks first: a slot skipped
-- because it was missed entirely, a team that could not be asked, a digest week queued.
CREATE TABLE planner_marks (
    mark_key   TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
