-- Server-side sessions. The cookie carries a random key; only its SHA-256 (`key_hash`) is
-- stored, so a copy of this table cannot be replayed as cookies. `public_id` is the opaque id
-- shown in session listings. `state` is the actix-session state as JSON.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    public_id TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    remember BOOLEAN NOT NULL DEFAULT FALSE,
    user_agent TEXT,
    ip TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_key_hash_idx ON sessions (key_hash);
CREATE UNIQUE INDEX sessions_public_id_idx ON sessions (public_id);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
