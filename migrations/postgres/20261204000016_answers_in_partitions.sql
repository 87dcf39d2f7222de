-- The answer tables are split into 16 partitions by a hash of the pulse (wave) id, the same
-- split for all three, so each pulse's tokens, ballots and comments sit in partitions of the
-- same number. Why: deleted must mean gone from the files, and on PostgreSQL that takes
-- `VACUUM FULL`, which locks the table it rewrites; an answer that reached it waited for the
-- whole rewrite, in proportion to every open answer of the org (86 to 290 ms in
-- `planner_bench`). `VACUUM FULL` of a partitioned table rewrites one partition at a time, each
-- in a transaction of its own, so an answer now waits at most for the partition its pulse is in:
-- a sixteenth of the rows. The answer path's `INSERT` opens only the partitions its rows go to.
-- (The partition a pulse lands in follows from its random id and says nothing about anyone.)
--
-- The rows are copied into the new tables and the old tables dropped, which removes their files.
--
-- Replicas of the version before may still be answering and releasing while this runs
-- (README, *Running several replicas*), and no answer they commit may fall between the copy
-- and the drop: the old tables are locked first, once their writers in flight are done. The
-- pulses before them, as a release takes its pulses before the answer tables (the new tables'
-- references to the pulses need this lock later, and taken then, a release holding its pulses
-- while it waited for the answer tables would deadlock with this); answers only share-lock
-- their pulses' rows, which this lock lets through.
LOCK TABLE waves IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE participation, ballots, comments IN ACCESS EXCLUSIVE MODE;

CREATE TABLE participation_by_pulse (
    wave_id   TEXT NOT NULL REFERENCES waves (wave_id),
    window_id TEXT NOT NULL,
    token     BYTEA NOT NULL,
    PRIMARY KEY (wave_id, token)
) PARTITION BY HASH (wave_id);

CREATE TABLE ballots_by_pulse (
    ballot_id      TEXT NOT NULL,
    wave_id        TEXT NOT NULL REFERENCES waves (wave_id),
    care           BIGINT NOT NULL
        CONSTRAINT ballots_care_check CHECK (care BETWEEN 1 AND 5),
    help           BIGINT NOT NULL
        CONSTRAINT ballots_help_check CHECK (help BETWEEN 1 AND 5),
    trust          BIGINT NOT NULL
        CONSTRAINT ballots_trust_check CHECK (trust BETWEEN 1 AND 5),
    follow_through BIGINT
        CONSTRAINT ballots_follow_through_check CHECK (follow_through BETWEEN 1 AND 4),
    PRIMARY KEY (wave_id, ballot_id)
) PARTITION BY HASH (wave_id);

CREATE TABLE comments_by_pulse (
    comment_id TEXT NOT NULL,
    wave_id    TEXT NOT NULL REFERENCES waves (wave_id),
    body       TEXT NOT NULL,
    PRIMARY KEY (wave_id, comment_id)
) PARTITION BY HASH (wave_id);

DO $$
BEGIN
    FOR part IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE participation_%s PARTITION OF participation_by_pulse
             FOR VALUES WITH (MODULUS 16, REMAINDER %s)', part, part);
        EXECUTE format(
            'CREATE TABLE ballots_%s PARTITION OF ballots_by_pulse
             FOR VALUES WITH (MODULUS 16, REMAINDER %s)', part, part);
        EXECUTE format(
            'CREATE TABLE comments_%s PARTITION OF comments_by_pulse
             FOR VALUES WITH (MODULUS 16, REMAINDER %s)', part, part);
    END LOOP;
END
$$;

-- No statistics of any secret column (`…_no_statistics_of_answers.sql`); set on the parent,
-- this reaches every partition, where ANALYZE samples.
ALTER TABLE participation_by_pulse
    ALTER COLUMN wave_id SET STATISTICS 0,
    ALTER COLUMN window_id SET STATISTICS 0,
    ALTER COLUMN token SET STATISTICS 0;
ALTER TABLE ballots_by_pulse
    ALTER COLUMN ballot_id SET STATISTICS 0,
    ALTER COLUMN wave_id SET STATISTICS 0,
    ALTER COLUMN care SET STATISTICS 0,
    ALTER COLUMN help SET STATISTICS 0,
    ALTER COLUMN trust SET STATISTICS 0,
    ALTER COLUMN follow_through SET STATISTICS 0;
ALTER TABLE comments_by_pulse
    ALTER COLUMN comment_id SET STATISTICS 0,
    ALTER COLUMN wave_id SET STATISTICS 0,
    ALTER COLUMN body SET STATISTICS 0;

INSERT INTO participation_by_pulse (wave_id, window_id, token)
    SELECT wave_id, window_id, token FROM participation;
INSERT INTO ballots_by_pulse (ballot_id, wave_id, care, help, trust, follow_through)
    SELECT ballot_id, wave_id, care, help, trust, follow_through FROM ballots;
INSERT INTO comments_by_pulse (comment_id, wave_id, body)
    SELECT comment_id, wave_id, body FROM comments;

DROP TABLE participation, ballots, comments;

ALTER TABLE participation_by_pulse RENAME TO participation;
ALTER INDEX participation_by_pulse_pkey RENAME TO participation_pkey;
ALTER TABLE participation RENAME CONSTRAINT participation_by_pulse_wave_id_fkey
    TO participation_wave_id_fkey;
ALTER TABLE ballots_by_pulse RENAME TO ballots;
ALTER INDEX ballots_by_pulse_pkey RENAME TO ballots_pkey;
ALTER TABLE ballots RENAME CONSTRAINT ballots_by_pulse_wave_id_fkey TO ballots_wave_id_fkey;
ALTER TABLE comments_by_pulse RENAME TO comments;
ALTER INDEX comments_by_pulse_pkey RENAME TO comments_pkey;
ALTER TABLE comments RENAME CONSTRAINT comments_by_pulse_wave_id_fkey TO comments_wave_id_fkey;
