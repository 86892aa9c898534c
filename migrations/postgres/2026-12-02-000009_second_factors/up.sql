-- The second factor: an authenticator app (TOTP, RFC 6238) with single-use recovery codes, and
-- the pending state of a login whose password was right but whose second step is still due.

-- One TOTP factor per user. `secret_sealed` is the secret encrypted with ChaCha20-Poly1305
-- under a key derived from the server's secret key (nonce, then ciphertext and tag; the user id
-- is the associated data), never stored in the clear. `confirmed_at` is NULL while the
-- enrolment waits for its first code; `last_used_step` is the newest accepted time step, so a
-- code is accepted at most once (a conditional update decides, on every instance).
CREATE TABLE totp_factors (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_used_step BIGINT
);
-- Set-ups never confirmed are deleted by the periodic cleanup, found through this index.
CREATE INDEX totp_factors_unconfirmed_idx ON totp_factors (created_at) WHERE confirmed_at IS NULL;

-- Single-use recovery codes: only the SHA-256 of each (120 random bits: a fast hash is enough,
-- ASVS 5.0 6.5.2) is stored; `used_at` marks a spent one.
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE UNIQUE INDEX recovery_codes_user_id_code_hash_idx ON recovery_codes (user_id, code_hash);

-- A login waiting for its second step: the cookie carries a random token, only its SHA-256 is
-- stored. Five minutes, single use.
CREATE TABLE pending_logins (
    id INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    token_hash TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    remember BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX pending_logins_token_hash_idx ON pending_logins (token_hash);
CREATE INDEX pending_logins_user_id_idx ON pending_logins (user_id);
CREATE INDEX pending_logins_expires_at_idx ON pending_logins (expires_at);

-- A short, human-readable detail of an event ("9 recovery codes left").
ALTER TABLE events ADD COLUMN detail TEXT;
