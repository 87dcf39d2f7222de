-- The outbox is keyed by its de-duplication key. A queued job used to be written into the
-- table and four indexes (the job id, the key, the due index and the wave index), and a
-- release deleted each of its ten invitation and reminder rows from all of them; now the
-- table and three. `job_id` stays as the row's name in logs, and is no longer indexed: the
-- worker marks a row by its key.
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_dedup_key_key;
ALTER TABLE outbox ADD PRIMARY KEY (dedup_key);
