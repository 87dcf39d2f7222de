-- Ballots and comments are keyed by their wave first, then their random id, and the separate
-- indexes by wave are dropped. Every answer used to insert into two b-trees of ballots (the
-- random id, and the index by wave), each at a random page; now one. A release still finds
-- a wave's rows through the key's prefix, and the order within a wave is the random id's,
-- which says nothing about arrival.
CREATE TABLE ballots_by_wave (
    ballot_id      TEXT NOT NULL,
    wave_id        TEXT NOT NULL REFERENCES waves (wave_id),
    care           BIGINT NOT NULL CHECK (care BETWEEN 1 AND 5),
    help           BIGINT NOT NULL CHECK (help BETWEEN 1 AND 5),
    trust          BIGINT NOT NULL CHECK (trust BETWEEN 1 AND 5),
    follow_through BIGINT CHECK (follow_through BETWEEN 1 AND 4),
    PRIMARY KEY (wave_id, ballot_id)
) WITHOUT ROWID;
INSERT INTO ballots_by_wave (ballot_id, wave_id, care, help, trust, follow_through)
    SELECT ballot_id, wave_id, care, help, trust, follow_through FROM ballots;
DROP TABLE ballots;
ALTER TABLE ballots_by_wave RENAME TO ballots;

CREATE TABLE comments_by_wave (
    comment_id TEXT NOT NULL,
    wave_id    TEXT NOT NULL REFERENCES waves (wave_id),
    body       TEXT NOT NULL,
    PRIMARY KEY (wave_id, comment_id)
) WITHOUT ROWID;
INSERT INTO comments_by_wave (comment_id, wave_id, body)
    SELECT comment_id, wave_id, body FROM comments;
DROP TABLE comments;
ALTER TABLE comments_by_wave RENAME TO comments;
