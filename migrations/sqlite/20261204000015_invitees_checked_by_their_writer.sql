-- PostgreSQL drops its check of each invitee row against its wave in its version of this
-- migration (a query per row, most of the cost of writing them). SQLite's check is a lookup in
-- the waves' key inside the same call, and removing it would mean rebuilding the table: it
-- stays. `trustpulse audit` counts invitees whose wave is missing on either backend.
SELECT 1;
