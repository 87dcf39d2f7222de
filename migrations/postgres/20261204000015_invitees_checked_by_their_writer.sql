-- A pulse's invitees are written in the same statements as their wave, by one function
-- (`write_new` in src/store/waves.rs), and waves are never deleted. PostgreSQL checked each
-- invitee row against its wave anyway, through a query of its own per row: 356 of the 565 ms
-- that 100,000 invitees took to insert in psql, and after the outbox's rows the largest cost of
-- opening an org's first pulse. The check goes; `trustpulse audit` counts invitees whose wave
-- is missing.
ALTER TABLE wave_invitees DROP CONSTRAINT IF EXISTS wave_invitees_wave_id_fkey;
