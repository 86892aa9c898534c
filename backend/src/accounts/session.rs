//! The session check of every authenticated request: a cookie key in, the session's state out.

use super::Accounts;
use crate::db::sessions::{self, SessionWithUser};
use crate::db::users;
use crate::domain::{SessionState, User, Username, session_key_hash};
use crate::error::ApiError;

/// Expired sessions deleted per write by the periodic cleanup.
pub const CLEANUP_BATCH: i64 = 500;
/// The pause between two cleanup batches, in which requests get the write lock.
const CLEANUP_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

impl Accounts {
    /// The live session a cookie key names, or `None`. One indexed read; a session past its
    /// absolute lifetime or idle for too long is deleted and is `None`, whatever the browser
    /// still sends. "Last seen" is written at most once per `touch_every`, so ordinary requests
    /// are reads only.
    pub async fn session(&self, key: &str) -> Result<Option<SessionState>, ApiError> {
        let hash = session_key_hash(key);
        let found = match self
            .db
            .read_inline(|c| sessions::find_by_key_hash(c, &hash))
        {
            Some(read) => read?,
            None => {
                self.db
                    .read(move |c| sessions::find_by_key_hash(c, &hash))
                    .await?
            }
        };
        let Some(SessionWithUser {
            session: row,
            username,
            user_created_at,
        }) = found
        else {
            return Ok(None);
        };
        let live = self.liveness();
        if !live.is_live(&row) {
            let id = row.id;
            self.db
                .run(move |c| Ok::<_, ApiError>(sessions::delete_by_id(c, id)?))
                .await?;
            return Ok(None);
        }
        if live.now - row.last_seen_at >= self.touch_every {
            let (id, now) = (row.id, live.now);
            self.db
                .run(move |c| Ok::<_, ApiError>(sessions::touch(c, id, now)?))
                .await?;
        }
        Ok(Some(SessionState {
            user: User {
                id: row.user_id,
                username,
                created_at: user_created_at,
            },
            public_id: row.public_id,
            logged_in_at: row.logged_in_at,
            expires_at: row.expires_at,
            remember: row.remember,
        }))
    }

    /// Deletes expired sessions, then stale throttle rows, expired pending logins and unconfirmed
    /// authenticator set-ups; returns how many sessions and how many other rows. Sessions go
    /// in batches of [`CLEANUP_BATCH`], each its own short write, with a pause between them, so
    /// that a million expired rows never hold the write lock long enough for a request to see.
    pub async fn clean_up(&self) -> Result<(usize, usize), ApiError> {
        let mut sessions = 0;
        loop {
            let live = self.liveness();
            let deleted = self
                .db
                .run(move |c| Ok::<_, ApiError>(sessions::delete_expired(c, live, CLEANUP_BATCH)?))
                .await?;
            sessions += deleted;
            if deleted < CLEANUP_BATCH as usize {
                break;
            }
            tokio::time::sleep(CLEANUP_PAUSE).await;
        }
        let now = self.clock.now();
        let mut others = self
            .db
            .run(move |c| Ok::<_, ApiError>(crate::db::throttles::delete_stale(c, now)?))
            .await?;
        // Logins that never got their second step, set-ups never confirmed, passkey ceremonies
        // never finished (the batch is full while either kind has more).
        loop {
            let deleted = self
                .db
                .run(move |c| {
                    let second_factors = crate::db::second_factors::delete_expired(
                        c,
                        now,
                        now - super::ENROLMENT_SECS,
                        CLEANUP_BATCH,
                    )?;
                    let ceremonies =
                        crate::db::passkeys::delete_expired_ceremonies(c, now, CLEANUP_BATCH)?;
                    Ok::<_, ApiError>((second_factors, ceremonies))
                })
                .await?;
            others += deleted.0 + deleted.1;
            if deleted.0.max(deleted.1) < CLEANUP_BATCH as usize {
                break;
            }
            tokio::time::sleep(CLEANUP_PAUSE).await;
        }
        Ok((sessions, others))
    }

    /// Fills in the confusable skeleton of users from before it was stored (see the migration
    /// `username_skeletons`), at start-up. Two old accounts whose names look the same keep their
    /// names; the later one keeps no skeleton and is logged.
    pub async fn backfill_skeletons(&self) -> Result<usize, ApiError> {
        const BATCH: i64 = 1000;
        let mut filled = 0;
        let mut after = 0;
        loop {
            let batch = self
                .db
                .run(move |c| Ok::<_, ApiError>(users::without_skeleton(c, after, BATCH)?))
                .await?;
            let Some(&(last, _)) = batch.last() else {
                return Ok(filled);
            };
            after = last;
            filled += self
                .db
                .write(move |c| {
                    let mut filled = 0;
                    for (id, key) in batch {
                        let Ok(name) = Username::parse(&key) else {
                            continue;
                        };
                        // A savepoint-free check first: a unique violation would end the
                        // transaction on PostgreSQL.
                        if let Some(twin) = users::find_by_skeleton(c, &name.skeleton())? {
                            tracing::warn!(
                                user_id = id,
                                looks_like = twin.id,
                                "two existing usernames look the same; the later keeps no skeleton"
                            );
                            continue;
                        }
                        users::set_skeleton(c, id, &name.skeleton())?;
                        filled += 1;
                    }
                    Ok::<_, ApiError>(filled)
                })
                .await?;
        }
    }

    /// Deletes the session a cookie key names, if any (the session middleware's purge).
    pub async fn forget_session(&self, key: &str) -> Result<(), ApiError> {
        let hash = session_key_hash(key);
        self.db
            .run(move |c| Ok::<_, ApiError>(sessions::delete_by_key_hash(c, &hash)?))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_interval_is_at_most_a_minute_and_scales_down() {
        assert_eq!(Accounts::touch_every(8 * 3600), 60);
        assert_eq!(Accounts::touch_every(8), 2);
        assert_eq!(Accounts::touch_every(1), 0);
    }
}
