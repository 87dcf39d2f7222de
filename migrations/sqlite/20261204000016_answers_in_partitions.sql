-- PostgreSQL splits its answer tables into partitions by pulse in its version of this
-- migration, so that a release's rewrite of them locks a sixteenth at a time. SQLite scrubs a
-- release by zeroing deleted rows as they go and emptying the WAL, which locks nothing for
-- longer than a checkpoint: nothing to do here.
SELECT 1;
