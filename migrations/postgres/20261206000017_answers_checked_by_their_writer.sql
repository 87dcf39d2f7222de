-- Two checks that PostgreSQL ran for every row an answer writes, moved to where they cost once.
-- Measured with `perf` under `answer_bench` (the fifty-fourth session): 11% and 7% of the
-- server's CPU.
--
-- The references from the answer tables to their pulses go, as the invitees' did (migration
-- 15). PostgreSQL checked each inserted token, ballot and comment against `waves` with a query
-- of its own, locking the pulse's row once more, although the statement that writes them
-- (`submission_batch::record_sql`) has already locked every one of its pulses and writes only
-- to those it found open; the moves of open pulses' answers copy rows whose pulse exists. Pulses
-- are never deleted. `trustpulse audit` counts tokens, ballots and comments whose pulse is
-- missing.
--
-- The range checks of the scores move from the ballots' table into two domains. A table's CHECK
-- is read back from its stored text and planned for each partition a statement writes to,
-- up to sixteen times each for a batch; a domain's is planned once per connection and cached.
-- The columns keep their type underneath (BIGINT), so nothing is rewritten: the domains start
-- without their checks, the columns change over, and then each check is added to its domain,
-- which reads every ballot to validate it as the table's own checks did.
--
-- Replicas of the version before may still be answering: lock the pulses before the answer
-- tables, as a release takes them (migration 16 says why).
LOCK TABLE waves IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE participation, ballots, comments IN ACCESS EXCLUSIVE MODE;

ALTER TABLE participation DROP CONSTRAINT IF EXISTS participation_wave_id_fkey;
ALTER TABLE ballots DROP CONSTRAINT IF EXISTS ballots_wave_id_fkey;
ALTER TABLE comments DROP CONSTRAINT IF EXISTS comments_wave_id_fkey;

CREATE DOMAIN answer_score AS BIGINT;
CREATE DOMAIN follow_through_answer AS BIGINT;

ALTER TABLE ballots
    DROP CONSTRAINT ballots_care_check,
    DROP CONSTRAINT ballots_help_check,
    DROP CONSTRAINT ballots_trust_check,
    DROP CONSTRAINT ballots_follow_through_check;
ALTER TABLE ballots
    ALTER COLUMN care TYPE answer_score,
    ALTER COLUMN help TYPE answer_score,
    ALTER COLUMN trust TYPE answer_score,
    ALTER COLUMN follow_through TYPE follow_through_answer;

ALTER DOMAIN answer_score ADD CONSTRAINT answer_score_from_1_to_5 CHECK (VALUE BETWEEN 1 AND 5);
ALTER DOMAIN follow_through_answer
    ADD CONSTRAINT follow_through_answer_from_1_to_4 CHECK (VALUE BETWEEN 1 AND 4);
