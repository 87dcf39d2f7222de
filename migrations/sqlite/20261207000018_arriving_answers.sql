-- Where the answers' writer on a SQLite file puts ballots and comments as they come: tables in
-- the order of arrival (a rowid rising with each row), so that a batch's ballots share a page
-- or two, where each went to its own pulse's page in `ballots` (keyed by pulse): half the pages
-- a batch wrote. They stay here only until their pulse's answers are moved, a second after the
-- writer is quiet or within seconds under a steady stream: the move copies them into `ballots`
-- and `comments` in random order with the pulse's other rows, and the writer then deletes the
-- copied rows from these tables (`src/store/sqlite_writer/arrivals.rs`). Until then a reader
-- of the answers reads both (a row copied but not yet deleted is read once: `ballots` holds
-- it under the same id). PostgreSQL's writers do not use these tables.
--
-- Privacy (DESIGN §3): the same columns as `ballots` and `comments` (random ids, the pulse, the
-- answers; no person, no time). The rowid is an order of arrival, as the places of the rows in
-- a page of `ballots` were before the move: it lasts as long as those did.
CREATE TABLE arriving_ballots (
    ballot_id      TEXT NOT NULL,
    wave_id        TEXT NOT NULL REFERENCES waves (wave_id),
    care           BIGINT NOT NULL CHECK (care BETWEEN 1 AND 5),
    help           BIGINT NOT NULL CHECK (help BETWEEN 1 AND 5),
    trust          BIGINT NOT NULL CHECK (trust BETWEEN 1 AND 5),
    follow_through BIGINT CHECK (follow_through BETWEEN 1 AND 4)
);

CREATE TABLE arriving_comments (
    comment_id TEXT NOT NULL,
    wave_id    TEXT NOT NULL REFERENCES waves (wave_id),
    body       TEXT NOT NULL
);
