-- PostgreSQL drops its check of each answer row against its pulse, and moves the scores' range
-- checks into domains, in its version of this migration (a query per row, and the checks planned
-- again for every partition a batch writes to). SQLite's reference check is a lookup in the
-- pulses' key inside the same call, its CHECKs are compiled into the prepared statement once,
-- and changing either would mean rebuilding the tables: they stay. `trustpulse audit` counts
-- answers whose pulse is missing on either backend.
SELECT 1;
