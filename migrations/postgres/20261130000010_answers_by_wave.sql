-- Ballots and comments are keyed by their wave first, then their random id, and the separate
-- indexes by wave are dropped. Every answer used to insert into two b-trees of ballots (the
-- random id, and the index by wave); now one. A release still finds a wave's rows through the
-- key's prefix, and the order within a wave is the random id's, which says nothing about
-- arrival.
ALTER TABLE ballots DROP CONSTRAINT ballots_pkey;
ALTER TABLE ballots ADD PRIMARY KEY (wave_id, ballot_id);
DROP INDEX ballots_wave;

ALTER TABLE comments DROP CONSTRAINT comments_pkey;
ALTER TABLE comments ADD PRIMARY KEY (wave_id, comment_id);
DROP INDEX comments_wave;
