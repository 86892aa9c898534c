-- Passkeys (WebAuthn): the credentials a user registered, the per-user handle authenticators
-- keep with a discoverable credential, and the state of ceremonies between their two halves.

-- The WebAuthn user handle: a random UUID given to a user at their first passkey. Authenticators
-- store it with a discoverable credential and return it at a passwordless sign-in. It is not the
-- user id, so it tells nothing about the account (WebAuthn: "must not contain personally
-- identifying information").
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;
CREATE UNIQUE INDEX users_webauthn_handle_idx ON users (webauthn_handle);

-- A registered passkey. `credential` is webauthn-rs's `Passkey` as JSON (public key, algorithm,
-- signature counter, backup flags): the library's own format, read back as it wrote it.
-- `credential_id` (base64url) is unique across all users: one authenticator credential belongs
-- to one account. `sign_count`, `backup_eligible` and `backed_up` repeat what the JSON holds,
-- for listings and queries. `public_id` names it in URLs.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    public_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    credential TEXT NOT NULL,
    name TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backed_up BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX passkeys_credential_id_idx ON passkeys (credential_id);
CREATE UNIQUE INDEX passkeys_public_id_idx ON passkeys (public_id);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- A ceremony between its start and its finish: webauthn-rs's state (the challenge, and for a
-- registration the user) as JSON, under the SHA-256 of a random token the client sends back.
-- In the database, so that any instance can finish what another started; five minutes, single
-- use (the finish deletes the row, and only the first delete counts). `kind` is
-- 'registration', 'login' (passwordless) or 'second_step'; `user_id` is the user of a
-- registration or second step, NULL for a passwordless sign-in.
CREATE TABLE webauthn_ceremonies (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX webauthn_ceremonies_token_hash_idx ON webauthn_ceremonies (token_hash);
CREATE INDEX webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);
CREATE INDEX webauthn_ceremonies_user_id_idx ON webauthn_ceremonies (user_id);
