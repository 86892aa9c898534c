-- A session row is the session's whole state: who (user_id, joined to users for the name), when
-- the login happened (`logged_in_at`, which a renewal keeps, so the absolute lifetime never
-- restarts), `remember`, and the expiry columns. The JSON copy of the actix-session state is
-- gone: the server builds that state from the row.
ALTER TABLE sessions ADD COLUMN logged_in_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET logged_in_at = created_at;
ALTER TABLE sessions DROP COLUMN state;
