//! Register, log in, log out: the three actions of the original app.

use secrecy::{ExposeSecret as _, SecretString};

use super::{Accounts, Check, Checked, PendingLogin};
use crate::db::{self, events, users};
use crate::domain::{
    EventKind, FieldError, Origin, SessionState, StartedSession, User, Username, check_length_limit,
};
use crate::error::ApiError;
use crate::metrics::LoginOutcome as LoginMetric;

/// A registration as sent: the name and password still to be checked against the rules.
#[derive(Debug)]
pub struct Registration {
    pub username: String,
    pub password: SecretString,
}

/// A login as sent.
#[derive(Debug)]
pub struct LoginAttempt {
    pub username: String,
    pub password: SecretString,
    /// Keep the cookie beyond the browser session.
    pub remember: bool,
}

/// How a login ended. Errors (the database, a full hash queue) are not outcomes.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The session is written; start it in the client.
    LoggedIn(StartedSession),
    /// Unknown name or wrong password: one answer for both.
    InvalidCredentials,
    /// Too many failures for this account: refused without a hash.
    Throttled { retry_after: u64 },
    /// The password was right and the account has a second factor: nothing is logged in yet;
    /// the pending login waits for [`Accounts::complete_second_step`].
    SecondFactorRequired(PendingLogin),
}

impl Accounts {
    /// Whether a name is free: neither it nor a name that looks the same is registered (a cheap
    /// early answer; the unique indexes still decide races).
    pub async fn username_available(&self, username: &Username) -> Result<bool, ApiError> {
        let (key, skeleton) = (username.key().to_owned(), username.skeleton());
        let taken = self
            .db
            .run(move |c| Ok::<_, ApiError>(users::name_taken(c, &key, &skeleton)?))
            .await?;
        Ok(!taken)
    }

    /// Creates an account (and its `registered` event, in the same transaction). No session is
    /// started: log in next.
    pub async fn register(&self, new: Registration, origin: Origin) -> Result<User, ApiError> {
        let mut errors: Vec<FieldError> = Vec::new();
        let username = Username::parse(&new.username)
            .map_err(|e| errors.push(e))
            .ok();
        let password_ok = match &username {
            Some(name) => self
                .policy
                .check("password", new.password.expose_secret(), name),
            None => self
                .policy
                .check_with_inputs("password", new.password.expose_secret(), &[]),
        };
        if let Err(e) = password_ok {
            errors.push(e);
        }
        let Some(username) = username.filter(|_| errors.is_empty()) else {
            return Err(ApiError::Validation(errors));
        };
        if !self.username_available(&username).await? {
            return Err(ApiError::UsernameTaken);
        }
        let hash = self.passwords.hash(new.password).await?;
        let user = self.create_user(username, hash, origin).await?;
        crate::audit!(
            info,
            event = "registered",
            user_id = user.id,
            username = %user.username,
            "account created"
        );
        self.metrics.registration();
        Ok(user)
    }

    /// Inserts the user and its `registered` event in one transaction; a name taken meanwhile
    /// is [`ApiError::UsernameTaken`].
    pub(super) async fn create_user(
        &self,
        username: Username,
        hash: String,
        origin: Origin,
    ) -> Result<User, ApiError> {
        let now = self.clock.now();
        let kept = self.events_kept;
        let skeleton = username.skeleton();
        self.db
            .write(move |c| {
                let row = users::insert(
                    c,
                    &users::NewUser {
                        username: username.display(),
                        username_key: username.key(),
                        username_skeleton: Some(&skeleton),
                        password_hash: &hash,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .map_err(|e| {
                    if db::is_unique_violation(&e) {
                        ApiError::UsernameTaken
                    } else {
                        e.into()
                    }
                })?;
                events::record(c, row.id, EventKind::Registered, &origin, now, kept)?;
                Ok(User::from(&row))
            })
            .await
    }

    /// Checks the password behind the account throttle and, when it matches, writes the new
    /// session, the login event, the throttle reset and a rehash (when the stored hash was weak
    /// or legacy) in one transaction.
    pub async fn login(
        &self,
        attempt: LoginAttempt,
        origin: Origin,
    ) -> Result<LoginOutcome, ApiError> {
        let LoginAttempt {
            username,
            password,
            remember,
        } = attempt;
        if let Err(e) = check_length_limit("password", password.expose_secret()) {
            return Err(ApiError::Validation(vec![e]));
        }
        let throttle_key = Username::throttle_key(&username);
        // A name that breaks the username rules names no account: it costs the same dummy
        // verification as an unknown one.
        let lookup = Username::key_for_login(&username);
        let find = move |c: &mut db::Conn| match &lookup {
            Some(key) => users::find_credentials(c, key),
            None => Ok(None),
        };
        match self
            .check_password(&throttle_key, find, password, Check::Login)
            .await?
        {
            Checked::Locked { retry_after } => {
                self.count_login(LoginMetric::Throttled);
                Ok(LoginOutcome::Throttled { retry_after })
            }
            Checked::Mismatch { credentials } => {
                let user_id = credentials.as_ref().map(|c| c.id);
                crate::audit!(
                    info,
                    event = "login_failed",
                    username = %throttle_key,
                    user_id,
                    reason = if user_id.is_some() { "wrong_password" } else { "unknown_user" },
                    client_ip = origin.ip.as_deref().unwrap_or_default(),
                    "login failed"
                );
                self.count_login(LoginMetric::Failure);
                if let Some(user_id) = user_id {
                    // Recorded just after the answer, not before it: a database write that only
                    // existing accounts cost would tell them apart from unknown names by time.
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = this.record_failure(user_id, origin).await {
                            tracing::warn!(error = ?e, user_id, "recording a failed login");
                        }
                    });
                }
                Ok(LoginOutcome::InvalidCredentials)
            }
            Checked::Match {
                credentials,
                rehash,
            } => {
                self.complete_login(credentials, rehash, remember, &throttle_key, origin)
                    .await
            }
        }
    }

    /// Everything a right password writes, in one transaction: a rehash when due, then either
    /// the session (forgiving the throttle, recording the login) or, for an account with a
    /// second factor, a pending login (the throttle still counts this attempt until the second
    /// step succeeds, so a known password does not buy unlimited code guesses).
    async fn complete_login(
        &self,
        credentials: crate::db::users::Credentials,
        rehash: Option<String>,
        remember: bool,
        throttle_key: &str,
        origin: Origin,
    ) -> Result<LoginOutcome, ApiError> {
        let this = self.clone();
        let key = throttle_key.to_owned();
        let ip = origin.ip.clone();
        let now = self.clock.now();
        let kept = self.events_kept;
        let written = self
            .db
            .write(move |c| {
                let user = User::from(&credentials);
                if let Some(new_hash) = rehash {
                    let replaced = users::replace_hash(
                        c,
                        user.id,
                        &credentials.password_hash,
                        &new_hash,
                        now,
                    )?;
                    tracing::info!(user_id = user.id, replaced, "password hash upgraded");
                }
                if let Some(pending) = this.begin_second_step(c, user.id, remember, now)? {
                    return Ok::<_, ApiError>(Err((user.id, pending)));
                }
                this.forgive(c, &key)?;
                events::record(c, user.id, EventKind::Login, &origin, now, kept)?;
                Ok(Ok(this.insert_session(c, user, remember, now, &origin)?))
            })
            .await?;
        let session = match written {
            Ok(session) => session,
            Err((user_id, pending)) => {
                crate::audit!(
                    info,
                    event = "second_factor_required",
                    username = %throttle_key,
                    user_id,
                    client_ip = ip.as_deref().unwrap_or_default(),
                    "password accepted; waiting for the second factor"
                );
                self.count_login(LoginMetric::SecondFactorRequired);
                return Ok(LoginOutcome::SecondFactorRequired(pending));
            }
        };
        crate::audit!(
            info,
            event = "login_succeeded",
            username = %throttle_key,
            user_id = session.state.user.id,
            client_ip = ip.as_deref().unwrap_or_default(),
            remember,
            "logged in"
        );
        self.count_login(LoginMetric::Success);
        Ok(LoginOutcome::LoggedIn(session))
    }

    /// Ends the session and records the logout, in one transaction.
    pub async fn logout(&self, session: &SessionState, origin: Origin) -> Result<(), ApiError> {
        let (user_id, public_id) = (session.user.id, session.public_id.clone());
        let now = self.clock.now();
        let kept = self.events_kept;
        self.db
            .write(move |c| {
                db::sessions::delete_one_for_user(c, user_id, &public_id)?;
                events::record(c, user_id, EventKind::Logout, &origin, now, kept)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        crate::audit!(info, event = "logout", user_id, "logged out");
        Ok(())
    }
}
