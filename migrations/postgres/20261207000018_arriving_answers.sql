-- SQLite's answers' writer puts ballots and comments first in tables in the order of arrival,
-- and moves them to `ballots` and `comments` within seconds (its version of this migration).
-- PostgreSQL's writers write a batch in one statement to the partitioned tables and move a
-- pulse's rows there themselves (`answer_shuffle.rs`): nothing changes here.
SELECT 1;
