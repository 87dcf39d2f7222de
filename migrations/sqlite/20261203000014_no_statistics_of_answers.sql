-- PostgreSQL's statistics of the answer tables (window keys, tokens, ballots, comments) are
-- turned off in its version of this migration. SQLite gathers statistics only when ANALYZE or
-- PRAGMA optimize runs, and trustpulse runs neither: SQLite's bundled build keeps a sample of
-- each index's keys (sqlite_stat4), tokens among them. Nothing to change here.
SELECT 1;
