-- Which token secret (TRUSTPULSE_TOKEN_SECRET, kept outside the database) a window's key is
-- mixed with before it makes participation tokens: an id derived from the secret, which says
-- nothing of it. NULL for a window made without one, whose tokens the stored key alone makes.
-- Deleted with the key at release.
ALTER TABLE window_keys ADD COLUMN secret_id TEXT;
