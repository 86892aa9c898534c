-- Each user's recent security events (registered, login, login_failed, logout,
-- password_changed, session_revoked, sessions_revoked), newest kept, about 100 per user.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX events_user_id_id_idx ON events (user_id, id);
