-- trustpulse schema, PostgreSQL flavour. Kept column for column like migrations/sqlite so that
-- one set of runtime queries serves both through sqlx's Any driver.
-- Times are unix seconds; flags are 0/1.
--
-- Privacy (DESIGN §3): `ballots` and `comments` have random ids, no timestamps and no person
-- column. PostgreSQL's heap order and row headers can still hint at insertion order to someone
-- with raw database access while a window is open; the README states this residual risk.
-- Who answered lives only in `participation`, as keyed tokens whose key (`window_keys`) is
-- deleted at release.

-- One Slack workspace the bot is installed in.
CREATE TABLE installations (
    team_id      TEXT PRIMARY KEY,
    bot_user_id  TEXT,
    bot_token    TEXT,             -- NULL once uninstalled or revoked
    state        TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'uninstalled')),
    updated_at   BIGINT NOT NULL
);

-- Everyone trustpulse knows, as Slack describes them.
CREATE TABLE people (
    person_id      TEXT PRIMARY KEY,
    display_name   TEXT,
    email          TEXT,
    tz             TEXT,           -- Slack's IANA zone name for the person
    is_bot         BIGINT NOT NULL DEFAULT 0,
    is_deactivated BIGINT NOT NULL DEFAULT 0,
    opted_out      BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL
);

-- A team is a manager and the sellers who report to them.
CREATE TABLE teams (
    manager_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Dated membership: a row per stay of a seller in a team; left_at is NULL while it lasts.
CREATE TABLE memberships (
    membership_id TEXT PRIMARY KEY,
    manager_id    TEXT NOT NULL REFERENCES teams (manager_id),
    seller_id     TEXT NOT NULL,
    joined_at     BIGINT NOT NULL,
    left_at       BIGINT
);
-- A seller has at most one manager at a time.
CREATE UNIQUE INDEX memberships_current_seller ON memberships (seller_id) WHERE left_at IS NULL;
CREATE INDEX memberships_team ON memberships (manager_id, left_at);

-- Every roster import that changed something, for HR's audit trail.
CREATE TABLE roster_imports (
    import_id   TEXT PRIMARY KEY,
    imported_at BIGINT NOT NULL,
    sellers     BIGINT NOT NULL,
    joined      BIGINT NOT NULL,
    left_count  BIGINT NOT NULL
);

-- 'org' holds the organisation default; any other scope is a manager's Slack id (an override).
CREATE TABLE cadences (
    scope             TEXT PRIMARY KEY,
    every_weeks       BIGINT NOT NULL,
    weekday           TEXT NOT NULL,
    local_time        TEXT NOT NULL,   -- HH:MM
    tz                TEXT NOT NULL,   -- 'seller' or an IANA name
    open_for_secs     BIGINT NOT NULL,
    remind_after_secs BIGINT NOT NULL,
    digest_weekday    TEXT NOT NULL,
    digest_time       TEXT NOT NULL,
    anchor_date       TEXT NOT NULL,   -- Monday the cycle counts from
    updated_at        BIGINT NOT NULL
);

-- One or more consecutive waves of a team released together; windows never overlap.
CREATE TABLE windows (
    window_id       TEXT PRIMARY KEY,
    manager_id      TEXT NOT NULL,
    min_respondents BIGINT NOT NULL,   -- k in force when the window began
    state           TEXT NOT NULL CHECK (state IN ('open', 'released')),
    opened_at       BIGINT NOT NULL,
    released_at     BIGINT
);
CREATE UNIQUE INDEX windows_one_open_per_team ON windows (manager_id) WHERE state = 'open';

-- The random HMAC key of an unreleased window. Deleted at release.
CREATE TABLE window_keys (
    window_id TEXT PRIMARY KEY REFERENCES windows (window_id),
    hmac_key  BYTEA NOT NULL
);

-- One pulse of one team. `period` names the cadence slot (its civil date) so that a slot can
-- only ever become one wave.
CREATE TABLE waves (
    wave_id    TEXT PRIMARY KEY,
    manager_id TEXT NOT NULL,
    window_id  TEXT NOT NULL REFERENCES windows (window_id),
    period     TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('scheduled', 'open', 'closed')),
    opens_at   BIGINT NOT NULL,
    closes_at  BIGINT NOT NULL,
    closed_at  BIGINT,
    UNIQUE (manager_id, period)
);
CREATE UNIQUE INDEX waves_one_open_per_team ON waves (manager_id) WHERE state = 'open';

-- The roster snapshot of a wave: who was invited. Never joined with ballots.
CREATE TABLE wave_invitees (
    wave_id   TEXT NOT NULL REFERENCES waves (wave_id),
    person_id TEXT NOT NULL,
    PRIMARY KEY (wave_id, person_id)
);

-- Who has answered, as HMAC tokens under the window key. Deleted at release.
CREATE TABLE participation (
    wave_id   TEXT NOT NULL REFERENCES waves (wave_id),
    window_id TEXT NOT NULL,
    token     BYTEA NOT NULL,
    PRIMARY KEY (wave_id, token)
);
CREATE INDEX participation_window ON participation (window_id);

-- What was answered. No person, no time, random id.
CREATE TABLE ballots (
    ballot_id TEXT PRIMARY KEY,
    wave_id   TEXT NOT NULL REFERENCES waves (wave_id),
    care      BIGINT NOT NULL CHECK (care BETWEEN 1 AND 5),
    help      BIGINT NOT NULL CHECK (help BETWEEN 1 AND 5),
    trust     BIGINT NOT NULL CHECK (trust BETWEEN 1 AND 5)
);
CREATE INDEX ballots_wave ON ballots (wave_id);

-- Optional free text, stored apart from ballots: no link to a ballot, a person or a time.
CREATE TABLE comments (
    comment_id TEXT PRIMARY KEY,
    wave_id    TEXT NOT NULL REFERENCES waves (wave_id),
    body       TEXT NOT NULL
);
CREATE INDEX comments_wave ON comments (wave_id);

-- The frozen aggregate of a window, computed once when it is released.
CREATE TABLE releases (
    window_id   TEXT PRIMARY KEY REFERENCES windows (window_id),
    manager_id  TEXT NOT NULL,
    window_end  BIGINT NOT NULL,
    respondents BIGINT NOT NULL,
    invited     BIGINT NOT NULL,
    body        TEXT NOT NULL,      -- JSON
    released_at BIGINT NOT NULL
);
CREATE INDEX releases_team ON releases (manager_id, window_end);

-- Work for Slack, written in the same transaction as the change that causes it.
CREATE TABLE outbox (
    job_id      TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    dedup_key   TEXT NOT NULL UNIQUE,
    payload     TEXT NOT NULL,      -- JSON; never holds an answer
    state       TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')),
    due_at      BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    done_at     BIGINT
);
CREATE INDEX outbox_due ON outbox (state, due_at);

-- Slack events seen, for de-duplication of retried deliveries.
CREATE TABLE inbox (
    event_id     TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    processed_at BIGINT
);

-- Who may use `/pulse admin` and the admin App Home.
CREATE TABLE admins (
    person_id TEXT PRIMARY KEY,
    added_at  BIGINT NOT NULL
);
