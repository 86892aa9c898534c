-- The per-account login throttle, shared by every instance. Keyed by the normalized username
-- whether or not such an account exists. `failures` counts consecutive failed attempts (an
-- attempt is counted before its hash is computed and forgiven by a success); `locked_until`
-- is the Unix time before which attempts are refused without computing a hash.
CREATE TABLE login_throttles (
    username_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_throttles_updated_at_idx ON login_throttles (updated_at);
