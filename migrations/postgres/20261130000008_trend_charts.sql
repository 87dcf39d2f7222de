-- The trend chart last shared in each manager's direct message, by Slack's file id, so that
-- App Home shows the same picture. It draws released numbers only, which `releases` holds
-- already; nothing here is a seller's answer.
CREATE TABLE trend_charts (
    manager_id  TEXT PRIMARY KEY,
    file_id     TEXT NOT NULL,
    -- The chart in words (every number it draws), for the image block's alt text.
    alt_text    TEXT NOT NULL,
    -- The latest release it draws, YYYY-MM-DD.
    shows_until TEXT NOT NULL,
    shared_at   BIGINT NOT NULL
);
