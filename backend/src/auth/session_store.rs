//! An actix-session `SessionStore` over the database, so that logout and revocation take
//! effect at once on every instance.
//!
//! The cookie carries a random key (64 alphanumerics, about 380 bits); the row is keyed by its
//! SHA-256, so a copy of the table cannot be replayed as cookies. Expiry is enforced here, on the
//! server: a session past its absolute lifetime or idle for longer than the idle timeout loads as
//! nothing (and is deleted), whatever the browser still sends. "Last seen" is written at most
//! once per [`DbSessionStore::touch_every`], so ordinary requests are reads only.

use std::collections::HashMap;
use std::time::Duration;

use actix_session::storage::{
    LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key,
};
use actix_web::web;
use anyhow::Context as _;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::db::{self, DbPool, sessions};

type State = HashMap<String, String>;

/// Keys of the session state. actix-identity's own keys carry the user id and login time.
pub mod keys {
    pub const USER_ID: &str = "actix_identity.user_id";
    pub const LOGGED_IN_AT: &str = "actix_identity.logged_in_at";
    pub const USER: &str = "latchkey.user";
    pub const USER_AGENT: &str = "latchkey.user_agent";
    pub const IP: &str = "latchkey.ip";
    pub const REMEMBER: &str = "latchkey.remember";
    /// The session's public id, written by the store so handlers can tell "current".
    pub const PUBLIC_ID: &str = "latchkey.public_id";
}

#[derive(Clone)]
pub struct DbSessionStore {
    pool: DbPool,
    inline_reads: bool,
    idle_secs: i64,
    max_age_secs: i64,
    touch_every: i64,
}

impl DbSessionStore {
    /// `inline_reads`: the database is SQLite, whose reads in WAL mode never wait for a lock.
    pub fn new(
        pool: DbPool,
        idle_timeout: Duration,
        max_age: Duration,
        inline_reads: bool,
    ) -> Self {
        let idle_secs = db::secs(idle_timeout);
        Self {
            pool,
            inline_reads,
            idle_secs,
            max_age_secs: db::secs(max_age),
            touch_every: Self::touch_every(idle_secs),
        }
    }

    /// "Last seen" is refreshed at most once a minute, and often enough that a short idle
    /// timeout (tests use seconds) still measures activity.
    pub fn touch_every(idle_secs: i64) -> i64 {
        (idle_secs / 4).clamp(0, 60)
    }

    /// The session check is one indexed read on every authenticated request. On SQLite it runs
    /// right on the calling worker when a pooled connection is free at once: a WAL read never
    /// waits for a lock, and the hop to the blocking pool costs more than the read itself.
    /// `None` means "use the blocking pool" (PostgreSQL's network round trip, or no free
    /// connection); writes always go there.
    fn read_inline(&self, hash: &str) -> Option<anyhow::Result<Option<sessions::SessionRow>>> {
        if !self.inline_reads {
            return None;
        }
        let mut conn = self.pool.try_get()?;
        Some(sessions::find_by_key_hash(&mut conn, hash).map_err(Into::into))
    }

    async fn blocking<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut db::Conn) -> anyhow::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().context("database connection")?;
            work(&mut conn)
        })
        .await
        .context("blocking task")?
    }
}

/// The stored form of a cookie key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new opaque public id (128 random bits, base64url); unrelated to the cookie key.
fn new_public_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a JSON-encoded value that actix-session keeps as a string.
fn state_value<T: serde::de::DeserializeOwned>(state: &State, key: &str) -> Option<T> {
    state.get(key).and_then(|v| serde_json::from_str(v).ok())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let hash = key_hash(session_key.as_ref());
        let row = match self.read_inline(&hash) {
            Some(read) => read,
            None => {
                let hash = hash.clone();
                self.blocking(move |conn| Ok(sessions::find_by_key_hash(conn, &hash)?))
                    .await
            }
        }
        .map_err(LoadError::Other)?;
        let Some(row) = row else { return Ok(None) };
        let now = db::now();
        if now >= row.expires_at || now - row.last_seen_at >= self.idle_secs {
            let id = row.id;
            self.blocking(move |conn| Ok(sessions::delete_by_id(conn, id)?))
                .await
                .map_err(LoadError::Other)?;
            return Ok(None);
        }
        if now - row.last_seen_at >= self.touch_every {
            let id = row.id;
            self.blocking(move |conn| Ok(sessions::touch(conn, id, now)?))
                .await
                .map_err(LoadError::Other)?;
        }
        serde_json::from_str(&row.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(
        &self,
        mut state: State,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        let user_id = state_value::<String>(&state, keys::USER_ID)
            .and_then(|id| id.parse::<i32>().ok())
            .ok_or_else(|| SaveError::Other(anyhow::anyhow!("session state without a user id")))?;
        let now = db::now();
        // A renewed session (password change) keeps its login time, so its absolute lifetime
        // does not restart.
        let logged_in_at = state_value::<i64>(&state, keys::LOGGED_IN_AT).unwrap_or(now);
        let public_id = new_public_id();
        state.insert(
            keys::PUBLIC_ID.to_owned(),
            serde_json::to_string(&public_id).map_err(|e| SaveError::Serialization(e.into()))?,
        );
        let remember = state_value::<bool>(&state, keys::REMEMBER).unwrap_or(false);
        let user_agent = state_value::<String>(&state, keys::USER_AGENT);
        let ip = state_value::<String>(&state, keys::IP);
        let json = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = generate_session_key();
        let hash = key_hash(key.as_ref());
        let expires_at = logged_in_at.saturating_add(self.max_age_secs);
        self.blocking(move |conn| {
            sessions::insert(
                conn,
                &sessions::NewSession {
                    public_id: &public_id,
                    key_hash: &hash,
                    user_id,
                    state: &json,
                    remember,
                    user_agent: user_agent.as_deref(),
                    ip: ip.as_deref(),
                    created_at: now,
                    last_seen_at: now,
                    expires_at,
                },
            )?;
            Ok(())
        })
        .await
        .map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        let hash = key_hash(session_key.as_ref());
        let json =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        self.blocking(move |conn| Ok(sessions::update_state(conn, &hash, &json)?))
            .await
            .map_err(UpdateError::Other)?;
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        _session_key: &SessionKey,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        // Expiry lives in the row and is enforced by `load`; the middleware is configured never
        // to call this (TTL extension only on state changes).
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let hash = key_hash(session_key.as_ref());
        self.blocking(move |conn| Ok(sessions::delete_by_key_hash(conn, &hash)?))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_interval_is_at_most_a_minute_and_scales_down() {
        assert_eq!(DbSessionStore::touch_every(8 * 3600), 60);
        assert_eq!(DbSessionStore::touch_every(8), 2);
        assert_eq!(DbSessionStore::touch_every(1), 0);
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(new_public_id(), new_public_id());
        assert_eq!(new_public_id().len(), 22);
    }
}
