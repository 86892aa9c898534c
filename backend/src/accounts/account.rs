//! The logged-in user's account: change the password, delete the account, see and end sessions,
//! and the recent security activity.

use secrecy::{ExposeSecret as _, SecretString};

use super::{Accounts, Check, Checked};
use crate::db::{events, second_factors, sessions, throttles, users};
use crate::domain::{EventKind, Origin, SessionState, StartedSession, Username};
use crate::error::ApiError;

/// One live session of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub public_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The earlier of its idle and absolute expiry.
    pub ends_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session asking.
    pub current: bool,
}

/// One security event of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub id: i32,
    pub kind: EventKind,
    pub at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A short human-readable detail ("9 recovery codes left").
    pub detail: Option<String>,
}

impl Accounts {
    /// Re-checks the current password of the logged-in user behind the account throttle:
    /// [`ApiError::WrongPassword`] (recorded in their activity) when it does not match.
    pub(super) async fn recheck(
        &self,
        session: &SessionState,
        password: SecretString,
        check: Check,
        origin: &Origin,
    ) -> Result<(), ApiError> {
        let id = session.user.id;
        let key = Username::throttle_key(&session.user.username);
        let find = move |c: &mut crate::db::Conn| users::find_credentials_by_id(c, id);
        match self.check_password(&key, find, password, check).await? {
            Checked::Match { .. } => Ok(()),
            Checked::Locked { retry_after } => Err(ApiError::TooManyAttempts { retry_after }),
            Checked::Mismatch { credentials: None } => Err(ApiError::NotAuthenticated),
            Checked::Mismatch { .. } => {
                crate::audit!(
                    warn,
                    event = "password_recheck_failed",
                    action = check.as_str(),
                    user_id = id,
                    "wrong current password"
                );
                // The user sees someone guessing with their session in the activity list.
                self.record_failure(id, origin.clone()).await?;
                Err(ApiError::WrongPassword)
            }
        }
    }

    /// Changes the password after re-checking the current one. In one transaction: the new hash,
    /// every session of the user ended (this one too) with any login waiting for its second
    /// step, this one renewed under a new key (same
    /// login time, so the absolute lifetime does not restart), the throttle forgiven and the
    /// event recorded.
    pub async fn change_password(
        &self,
        session: &SessionState,
        current: SecretString,
        new: SecretString,
        origin: Origin,
    ) -> Result<StartedSession, ApiError> {
        let username = Username::parse(&session.user.username)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored username: {}", e.message)))?;
        self.policy
            .check("new_password", new.expose_secret(), &username)
            .map_err(|e| ApiError::Validation(vec![e]))?;
        self.recheck(session, current, Check::ChangePassword, &origin)
            .await?;
        let hash = self.passwords.hash(new).await?;
        let this = self.clone();
        let old = session.clone();
        let key = Username::throttle_key(&session.user.username);
        let now = self.clock.now();
        let kept = self.events_kept;
        let (renewed, revoked) = self
            .db
            .write(move |c| {
                let user_id = old.user.id;
                if !users::set_hash(c, user_id, &hash, now)? {
                    return Err(ApiError::NotAuthenticated);
                }
                let revoked = sessions::delete_for_user(c, user_id)?.saturating_sub(1);
                // A login half done with the old password must not finish after the change.
                second_factors::delete_pending_for_user(c, user_id)?;
                this.forgive(c, &key)?;
                events::record(c, user_id, EventKind::PasswordChanged, &origin, now, kept)?;
                let renewed =
                    this.insert_session(c, old.user, old.remember, old.logged_in_at, &origin)?;
                Ok((renewed, revoked))
            })
            .await?;
        crate::audit!(
            info,
            event = "password_changed",
            user_id = renewed.state.user.id,
            other_sessions_revoked = revoked,
            "password changed"
        );
        Ok(renewed)
    }

    /// Deletes the account after re-checking the password: the user, their sessions and events
    /// (cascade), and their throttle state, in one transaction. The name becomes free again.
    pub async fn delete_account(
        &self,
        session: &SessionState,
        password: SecretString,
        origin: Origin,
    ) -> Result<(), ApiError> {
        self.recheck(session, password, Check::DeleteAccount, &origin)
            .await?;
        let id = session.user.id;
        let key = Username::throttle_key(&session.user.username);
        self.db
            .write(move |c| {
                users::delete_by_id(c, id)?;
                throttles::reset(c, &key)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        crate::audit!(
            info,
            event = "account_deleted",
            user_id = id,
            "account deleted"
        );
        Ok(())
    }

    /// The user's live sessions, oldest first.
    pub async fn list_sessions(
        &self,
        session: &SessionState,
    ) -> Result<Vec<SessionEntry>, ApiError> {
        let id = session.user.id;
        let live = self.liveness();
        let rows = self
            .db
            .run(move |c| Ok::<_, ApiError>(sessions::live_for_user(c, id, live)?))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| SessionEntry {
                current: row.public_id == session.public_id,
                ends_at: live.ends_at(&row),
                public_id: row.public_id,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                user_agent: row.user_agent,
                ip: row.ip,
            })
            .collect())
    }

    /// Ends one session of the user (and records it, in the same transaction). `Ok(true)` when
    /// it was the session asking; [`ApiError::NotFound`] when the user has no such session.
    pub async fn revoke_session(
        &self,
        session: &SessionState,
        public_id: &str,
        origin: Origin,
    ) -> Result<bool, ApiError> {
        let id = session.user.id;
        let target = public_id.to_owned();
        let now = self.clock.now();
        let kept = self.events_kept;
        let found = self
            .db
            .write(move |c| {
                let found = sessions::delete_one_for_user(c, id, &target)?;
                if found {
                    events::record(c, id, EventKind::SessionRevoked, &origin, now, kept)?;
                }
                Ok::<_, ApiError>(found)
            })
            .await?;
        if !found {
            return Err(ApiError::NotFound);
        }
        crate::audit!(
            info,
            event = "session_revoked",
            user_id = id,
            "session revoked"
        );
        Ok(public_id == session.public_id)
    }

    /// Ends every session of the user but this one (and records it, in the same transaction);
    /// returns how many ended.
    pub async fn revoke_other_sessions(
        &self,
        session: &SessionState,
        origin: Origin,
    ) -> Result<usize, ApiError> {
        let (id, keep) = (session.user.id, session.public_id.clone());
        let now = self.clock.now();
        let kept = self.events_kept;
        let revoked = self
            .db
            .write(move |c| {
                let revoked = sessions::delete_others(c, id, Some(&keep))?;
                events::record(c, id, EventKind::SessionsRevoked, &origin, now, kept)?;
                Ok::<_, ApiError>(revoked)
            })
            .await?;
        crate::audit!(
            info,
            event = "sessions_revoked",
            user_id = id,
            revoked,
            "other sessions revoked"
        );
        Ok(revoked)
    }

    /// The user's recent security events, newest first (at most [`events::SHOWN_PER_USER`]).
    pub async fn list_events(&self, session: &SessionState) -> Result<Vec<EventEntry>, ApiError> {
        let id = session.user.id;
        let rows = self
            .db
            .run(move |c| Ok::<_, ApiError>(events::recent(c, id, events::SHOWN_PER_USER)?))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                // A kind this version does not know (written by a newer one) is left out.
                Some(EventEntry {
                    kind: EventKind::parse(&row.kind)?,
                    id: row.id,
                    at: row.at,
                    ip: row.ip,
                    user_agent: row.user_agent,
                    detail: row.detail,
                })
            })
            .collect())
    }

    /// Whether the database answers (for `/api/health`).
    pub async fn database_ping(&self) -> Result<(), ApiError> {
        self.db
            .run(|c| Ok::<_, ApiError>(crate::db::ping(c)?))
            .await
    }

    /// Live sessions across all users (for `/metrics`).
    pub async fn count_live_sessions(&self) -> Result<i64, ApiError> {
        let live = self.liveness();
        self.db
            .run(move |c| Ok::<_, ApiError>(sessions::count_live(c, live)?))
            .await
    }
}
