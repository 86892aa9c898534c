-- Expired sessions are found by either end: past their absolute expiry (`expires_at`, indexed
-- since the table was created) or idle for too long (`last_seen_at`). With both columns indexed
-- the periodic cleanup reads only expired rows, in bounded batches, at any table size.
CREATE INDEX sessions_last_seen_at_idx ON sessions (last_seen_at);
