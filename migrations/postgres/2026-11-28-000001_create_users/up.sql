-- Users. `username` is the form shown (trimmed, NFKC); `username_key` is lowercase(username),
-- the key of uniqueness and login. Times are Unix seconds (UTC) so that SQLite and PostgreSQL
-- share one schema.
CREATE TABLE users (
    id INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key_idx ON users (username_key);
