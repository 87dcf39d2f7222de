-- PostgreSQL's ANALYZE, which autovacuum runs on its own, copies a sample of each column's
-- values into the catalog pg_statistic (as histogram bounds and most common values): window
-- keys, tokens, ballot ids, scores and comments' texts; and, as the share of each pulse's id
-- among the answer tables' rows, how many answered each pulse, counts under k included. They
-- stayed there after a release had deleted their rows, where a superuser or a copy of the
-- files could read them. The answer tables get no statistics at all: their queries find rows
-- through their keys, and the plans measured with and without them were the same. A
-- statistics target of 0 keeps every later ANALYZE away, and the ALTER to the same type
-- discards what an earlier ANALYZE took (the catalog's old row versions stay on its pages
-- until PostgreSQL vacuums them; the README says how to remove them at once).
ALTER TABLE window_keys
    ALTER COLUMN hmac_key SET STATISTICS 0, ALTER COLUMN hmac_key TYPE BYTEA;
ALTER TABLE participation
    ALTER COLUMN wave_id SET STATISTICS 0, ALTER COLUMN wave_id TYPE TEXT,
    ALTER COLUMN window_id SET STATISTICS 0, ALTER COLUMN window_id TYPE TEXT,
    ALTER COLUMN token SET STATISTICS 0, ALTER COLUMN token TYPE BYTEA;
ALTER TABLE ballots
    ALTER COLUMN wave_id SET STATISTICS 0, ALTER COLUMN wave_id TYPE TEXT,
    ALTER COLUMN ballot_id SET STATISTICS 0, ALTER COLUMN ballot_id TYPE TEXT,
    ALTER COLUMN care SET STATISTICS 0, ALTER COLUMN care TYPE BIGINT,
    ALTER COLUMN help SET STATISTICS 0, ALTER COLUMN help TYPE BIGINT,
    ALTER COLUMN trust SET STATISTICS 0, ALTER COLUMN trust TYPE BIGINT,
    ALTER COLUMN follow_through SET STATISTICS 0, ALTER COLUMN follow_through TYPE BIGINT;
ALTER TABLE comments
    ALTER COLUMN wave_id SET STATISTICS 0, ALTER COLUMN wave_id TYPE TEXT,
    ALTER COLUMN comment_id SET STATISTICS 0, ALTER COLUMN comment_id TYPE TEXT,
    ALTER COLUMN body SET STATISTICS 0, ALTER COLUMN body TYPE TEXT;
