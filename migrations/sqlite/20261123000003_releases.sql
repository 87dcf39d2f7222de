-- Releases and held windows.

-- What was known when a window's latest wave closed and the window was held under k: shown to
-- the manager in words ("4 of 8 answered"), never updated while a wave is open.
ALTER TABLE windows ADD COLUMN held_respondents BIGINT;
ALTER TABLE windows ADD COLUMN held_invited BIGINT;
ALTER TABLE windows ADD COLUMN waves_closed BIGINT NOT NULL DEFAULT 0;
