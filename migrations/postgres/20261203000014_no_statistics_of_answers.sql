-- PostgreSQL's ANALYZE, which autovacuum runs on its own, copies a sample of each column's
-- values into the catalog pg_statistic (as histogram bounds and most common values): window
-- keys, tokens, ballot ids, scores and comments' texts. They stayed there after a release had
-- deleted their rows, where a superuser or a copy of the files could read them. No query filters
-- these columns by a range of values, so the planner loses nothing without them: a statistics
-- target of 0 keeps every later ANALYZE away from them, and the ALTER to the same type discards
-- what an earlier ANALYZE took (the catalog's old row versions stay on its pages until
-- PostgreSQL vacuums them; the README says how to remove them at once).
ALTER TABLE window_keys
    ALTER COLUMN hmac_key SET STATISTICS 0, ALTER COLUMN hmac_key TYPE BYTEA;
ALTER TABLE participation
    ALTER COLUMN token SET STATISTICS 0, ALTER COLUMN token TYPE BYTEA;
ALTER TABLE ballots
    ALTER COLUMN ballot_id SET STATISTICS 0, ALTER COLUMN ballot_id TYPE TEXT,
    ALTER COLUMN care SET STATISTICS 0, ALTER COLUMN care TYPE BIGINT,
    ALTER COLUMN help SET STATISTICS 0, ALTER COLUMN help TYPE BIGINT,
    ALTER COLUMN trust SET STATISTICS 0, ALTER COLUMN trust TYPE BIGINT,
    ALTER COLUMN follow_through SET STATISTICS 0, ALTER COLUMN follow_through TYPE BIGINT;
ALTER TABLE comments
    ALTER COLUMN comment_id SET STATISTICS 0, ALTER COLUMN comment_id TYPE TEXT,
    ALTER COLUMN body SET STATISTICS 0, ALTER COLUMN body TYPE TEXT;
