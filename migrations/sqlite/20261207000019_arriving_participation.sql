-- Where the answers' writer on a SQLite file puts participation tokens as they come, beside
-- `arriving_ballots` and `arriving_comments` (migration 18): a table in the order of arrival,
-- so that a batch's tokens share a page or two, where each went to its own pulse's page of
-- `participation` (keyed by pulse): nearly every page a batch still wrote. They stay here only
-- until their pulse's answers are moved: the move copies them into `participation` in random
-- order with the pulse's other rows, and the writer then deletes the copied rows from here
-- (`src/store/sqlite_writer/arrivals.rs`). `participation`'s key refuses a second answer to a
-- pulse once a token is there; until then the writer, the one process writing answers to the
-- file, refuses it by the tokens it knows are here (it reads them when it starts). A reader of
-- the tokens (who answered, how many) reads both, each token once. PostgreSQL's writers do not
-- use this table.
--
-- Privacy (DESIGN §3): the same columns as `participation` (the pulse, its window, a keyed
-- hash; no person, no time). The rowid is an order of arrival, as the places of the tokens in
-- a page of `participation` were before the move: it lasts as long as those did.
CREATE TABLE arriving_participation (
    wave_id   TEXT NOT NULL REFERENCES waves (wave_id),
    window_id TEXT NOT NULL,
    token     BLOB NOT NULL
);
