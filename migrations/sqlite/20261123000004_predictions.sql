-- The manager's self-check: once per window, their prediction of how the team will answer.
-- The manager's own answers (never a seller's), shown to no one but that manager.
CREATE TABLE predictions (
    window_id  TEXT PRIMARY KEY REFERENCES windows (window_id),
    manager_id TEXT NOT NULL,
    care       BIGINT NOT NULL CHECK (care BETWEEN 1 AND 5),
    help       BIGINT NOT NULL CHECK (help BETWEEN 1 AND 5),
    trust      BIGINT NOT NULL CHECK (trust BETWEEN 1 AND 5)
);
