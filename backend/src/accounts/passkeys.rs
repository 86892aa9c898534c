//! Passkeys: register one (after the password is checked again), list, rename and remove them,
//! sign in with one and no name or password, and answer a login's second step with one.
//!
//! A ceremony's two halves may reach different instances: its state is a database row, taken
//! (deleted) by the finish in the same transaction as everything the finish writes, so it is
//! finished at most once, and a refused answer spends it too. Failures count in the account's
//! login throttle, as wrong passwords do.

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::{Accounts, Check, SecondFactorMethod};
use crate::auth::RelyingParty;
use crate::auth::passkeys::{self as webauthn, Assertion, Rejected, Verified};
use crate::db::passkeys::{self as store, NewCeremony, NewPasskey, PasskeyRow, Use};
use crate::db::{self, Conn, events, throttles, users};
use crate::domain::{
    CEREMONY_SECS, EventKind, FieldCode, FieldError, MAX_PASSKEYS_PER_USER, Origin, SessionState,
    StartedSession, User, Username, new_public_id, new_session_key, parse_passkey_name,
    session_key_hash,
};
use crate::error::ApiError;
use crate::metrics::LoginOutcome as LoginMetric;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyEntry {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

impl From<PasskeyRow> for PasskeyEntry {
    fn from(row: PasskeyRow) -> Self {
        Self {
            id: row.public_id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            backup_eligible: row.backup_eligible,
            backed_up: row.backed_up,
        }
    }
}

/// A started ceremony: the token that names it (only its hash is stored) and the options for
/// the browser's WebAuthn call.
#[derive(Debug)]
pub struct PasskeyCeremony {
    pub token: SecretString,
    pub options: Value,
}

/// How a passwordless sign-in ended.
#[derive(Debug)]
pub enum PasskeyLoginOutcome {
    LoggedIn(StartedSession),
    /// No such ceremony, or it was used or expired: start again.
    Expired,
    /// An unknown credential or an answer that did not verify (counted by the account throttle
    /// when the credential names an account).
    Invalid,
    Throttled {
        retry_after: u64,
    },
}

/// The kinds of ceremony, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Registration,
    Login,
    SecondStep,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login => "login",
            Self::SecondStep => "second_step",
        }
    }
}

/// A verified (or refused) answer, as the finish's transaction decided it.
enum Checked {
    Verified(Verified),
    Rejected(Rejected),
}

impl Accounts {
    /// The relying party, or why passkeys cannot work with this configuration.
    fn relying_party(&self) -> Result<&RelyingParty, ApiError> {
        self.passkeys
            .as_ref()
            .map_err(|why| ApiError::PasskeysUnavailable(why.clone()))
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, session: &SessionState) -> Result<Vec<PasskeyEntry>, ApiError> {
        let id = session.user.id;
        let rows = self
            .db
            .run(move |c| Ok::<_, ApiError>(store::for_user(c, id)?))
            .await?;
        Ok(rows.into_iter().map(PasskeyEntry::from).collect())
    }

    /// Starts registering a passkey after re-checking the password (a stolen session must not
    /// be able to add a lasting way in). The user gets a WebAuthn handle at their first passkey.
    pub async fn start_passkey_registration(
        &self,
        session: &SessionState,
        password: SecretString,
        origin: Origin,
    ) -> Result<PasskeyCeremony, ApiError> {
        let rp = self.relying_party()?.clone();
        self.recheck(session, password, Check::Passkey, &origin)
            .await?;
        let user = session.user.clone();
        let key = Username::throttle_key(&user.username);
        let now = self.clock.now();
        let this = self.clone();
        let token = new_session_key();
        let token_hash = session_key_hash(&token);
        let options = self
            .db
            .write(move |c| {
                this.forgive(c, &key)?;
                let existing = store::for_user(c, user.id)?;
                if existing.len() as i64 >= MAX_PASSKEYS_PER_USER {
                    return Err(ApiError::TooManyPasskeys);
                }
                let handle = store::ensure_handle(c, user.id, &uuid::Uuid::new_v4().to_string())?;
                let stored: Vec<String> = existing.into_iter().map(|p| p.credential).collect();
                let (options, state) = rp.start_registration(&handle, &user.username, &stored)?;
                insert_ceremony(
                    c,
                    &token_hash,
                    Kind::Registration,
                    Some(user.id),
                    &state,
                    now,
                )?;
                Ok(options)
            })
            .await?;
        Ok(PasskeyCeremony {
            token: SecretString::from(token),
            options,
        })
    }

    /// Finishes a registration: the ceremony is taken, the browser's answer verified against
    /// it, and the passkey stored with its name (or "Passkey N"), in one transaction.
    pub async fn finish_passkey_registration(
        &self,
        session: &SessionState,
        ceremony: SecretString,
        credential: Value,
        name: Option<String>,
        origin: Origin,
    ) -> Result<PasskeyEntry, ApiError> {
        let rp = self.relying_party()?.clone();
        let name = name
            .map(|n| parse_passkey_name("name", &n))
            .transpose()
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let response = webauthn::parse_registration(credential).map_err(malformed)?;
        let token_hash = session_key_hash(ceremony.expose_secret());
        let user_id = session.user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let added = self
            .db
            .write(move |c| {
                let Some(state) = take(c, &token_hash, Kind::Registration, Some(user_id), now)?
                else {
                    return Ok::<_, ApiError>(Err(ApiError::CeremonyExpired));
                };
                let new = match rp.finish_registration(&state, response) {
                    Ok(new) => new,
                    Err(why) => {
                        tracing::info!(user_id, reason = %why, "passkey registration refused");
                        return Ok(Err(ApiError::PasskeyRejected));
                    }
                };
                if store::by_credential_id(c, &new.credential_id)?.is_some() {
                    return Ok(Err(ApiError::PasskeyExists));
                }
                let count = store::count_for_user(c, user_id)?;
                if count >= MAX_PASSKEYS_PER_USER {
                    return Ok(Err(ApiError::TooManyPasskeys));
                }
                let name = name.unwrap_or_else(|| format!("Passkey {}", count + 1));
                let row = store::insert(
                    c,
                    &NewPasskey {
                        public_id: &new_public_id(),
                        user_id,
                        credential_id: &new.credential_id,
                        credential: &new.stored,
                        name: &name,
                        sign_count: new.sign_count,
                        backup_eligible: new.backup_eligible,
                        backed_up: new.backed_up,
                        created_at: now,
                    },
                )
                .map_err(|e| {
                    if db::is_unique_violation(&e) {
                        ApiError::PasskeyExists
                    } else {
                        e.into()
                    }
                })?;
                events::record_with_detail(
                    c,
                    user_id,
                    EventKind::PasskeyAdded,
                    Some(&row.name),
                    &origin,
                    now,
                    kept,
                )?;
                Ok(Ok(row))
            })
            .await??;
        crate::audit!(
            info,
            event = "passkey_added",
            user_id,
            backed_up = added.backed_up,
            "passkey registered"
        );
        Ok(PasskeyEntry::from(added))
    }

    /// Renames one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        session: &SessionState,
        public_id: String,
        name: &str,
        origin: Origin,
    ) -> Result<PasskeyEntry, ApiError> {
        let name = parse_passkey_name("name", name).map_err(|e| ApiError::Validation(vec![e]))?;
        let user_id = session.user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let row = self
            .db
            .write(move |c| {
                let Some(row) = store::rename(c, user_id, &public_id, &name)? else {
                    return Err(ApiError::NotFound);
                };
                events::record_with_detail(
                    c,
                    user_id,
                    EventKind::PasskeyRenamed,
                    Some(&row.name),
                    &origin,
                    now,
                    kept,
                )?;
                Ok(row)
            })
            .await?;
        Ok(PasskeyEntry::from(row))
    }

    /// Removes one of the user's passkeys after re-checking the password.
    pub async fn remove_passkey(
        &self,
        session: &SessionState,
        public_id: String,
        password: SecretString,
        origin: Origin,
    ) -> Result<(), ApiError> {
        self.recheck(session, password, Check::Passkey, &origin)
            .await?;
        let user_id = session.user.id;
        let key = Username::throttle_key(&session.user.username);
        let now = self.clock.now();
        let kept = self.events_kept;
        let this = self.clone();
        self.db
            .write(move |c| {
                this.forgive(c, &key)?;
                let Some(row) = store::find_for_user(c, user_id, &public_id)? else {
                    return Err(ApiError::NotFound);
                };
                store::delete(c, user_id, &public_id)?;
                events::record_with_detail(
                    c,
                    user_id,
                    EventKind::PasskeyRemoved,
                    Some(&row.name),
                    &origin,
                    now,
                    kept,
                )?;
                Ok(())
            })
            .await?;
        crate::audit!(info, event = "passkey_removed", user_id, "passkey removed");
        Ok(())
    }

    /// Starts a sign-in without a name: options any discoverable passkey of this site answers.
    pub async fn start_passkey_login(&self) -> Result<PasskeyCeremony, ApiError> {
        let rp = self.relying_party()?.clone();
        let (options, state) = rp.start_login()?;
        let token = new_session_key();
        let token_hash = session_key_hash(&token);
        let now = self.clock.now();
        self.db
            .write(move |c| {
                insert_ceremony(c, &token_hash, Kind::Login, None, &state, now)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(PasskeyCeremony {
            token: SecretString::from(token),
            options,
        })
    }

    /// Finishes a sign-in without a name. In one write transaction: the ceremony is taken, the
    /// credential found (by its id and the user handle it returned), the attempt counted by the
    /// account throttle, the answer verified, and on success what a password login writes (the
    /// throttle forgiven, the events, a new session) plus the passkey's new counter. A passkey
    /// verified with user verification is a complete login, also for an account with
    /// two-step verification: it is itself two factors (the device, and its PIN or biometric).
    pub async fn finish_passkey_login(
        &self,
        ceremony: SecretString,
        credential: Value,
        remember: bool,
        origin: Origin,
    ) -> Result<PasskeyLoginOutcome, ApiError> {
        let rp = self.relying_party()?.clone();
        let assertion = webauthn::parse_assertion(credential).map_err(malformed)?;
        let token_hash = session_key_hash(ceremony.expose_secret());
        let now = self.clock.now();
        let now_ms = self.clock.now_ms();
        let threshold = self.throttle_after;
        let kept = self.events_kept;
        let this = self.clone();
        let ip = origin.ip.clone();
        let (outcome, user_id) = self
            .db
            .write(move |c| {
                let Some(state) = take(c, &token_hash, Kind::Login, None, now)? else {
                    return Ok::<_, ApiError>((PasskeyLoginOutcome::Expired, None));
                };
                let Some((passkey, user)) = owner(c, &assertion)? else {
                    return Ok((PasskeyLoginOutcome::Invalid, None));
                };
                let key = Username::throttle_key(&user.username);
                if threshold > 0
                    && let throttles::Attempt::Locked { retry_after } =
                        throttles::begin_attempt(c, &key, now_ms, threshold)?
                {
                    let retry_after = retry_after.max(1);
                    return Ok((
                        PasskeyLoginOutcome::Throttled { retry_after },
                        Some(user.id),
                    ));
                }
                let checked = check(rp.finish_login(&state, &assertion, &passkey.credential));
                if !this.record_check(c, &passkey, checked, &origin, now)? {
                    // The user sees the refused attempt in their activity.
                    let failed = EventKind::LoginFailed;
                    let detail = Some("passkey");
                    events::record_with_detail(c, user.id, failed, detail, &origin, now, kept)?;
                    return Ok((PasskeyLoginOutcome::Invalid, Some(user.id)));
                }
                this.forgive(c, &key)?;
                events::record(c, user.id, EventKind::Login, &origin, now, kept)?;
                let user_id = user.id;
                let session = this.insert_session(c, user, remember, now, &origin)?;
                Ok((PasskeyLoginOutcome::LoggedIn(session), Some(user_id)))
            })
            .await?;
        match &outcome {
            PasskeyLoginOutcome::LoggedIn(_) => {
                crate::audit!(
                    info,
                    event = "login_succeeded",
                    user_id,
                    method = "passkey",
                    remember,
                    "logged in with a passkey"
                );
                self.count_login(LoginMetric::Success);
            }
            PasskeyLoginOutcome::Invalid => {
                crate::audit!(
                    info,
                    event = "login_failed",
                    user_id,
                    reason = if user_id.is_some() {
                        "passkey_rejected"
                    } else {
                        "unknown_passkey"
                    },
                    client_ip = ip.as_deref().unwrap_or_default(),
                    "passkey sign-in failed"
                );
                self.count_login(LoginMetric::Failure);
            }
            PasskeyLoginOutcome::Throttled { retry_after } => {
                self.record_throttled("passkey", user_id, *retry_after);
            }
            PasskeyLoginOutcome::Expired => {}
        }
        Ok(outcome)
    }

    /// Starts the second step of a login with a passkey: options listing the user's passkeys.
    pub async fn start_passkey_second_step(
        &self,
        pending_token: SecretString,
    ) -> Result<PasskeyCeremony, ApiError> {
        let rp = self.relying_party()?.clone();
        let pending_hash = session_key_hash(pending_token.expose_secret());
        let token = new_session_key();
        let token_hash = session_key_hash(&token);
        let now = self.clock.now();
        let options = self
            .db
            .write(move |c| {
                let Some(pending) = crate::db::second_factors::find_pending(c, &pending_hash, now)?
                else {
                    return Err(ApiError::PendingLoginExpired);
                };
                let stored: Vec<String> = store::for_user(c, pending.user_id)?
                    .into_iter()
                    .map(|p| p.credential)
                    .collect();
                if stored.is_empty() {
                    return Err(ApiError::NoPasskeys);
                }
                let (options, state) = rp.start_second_step(&stored)?;
                let user = Some(pending.user_id);
                insert_ceremony(c, &token_hash, Kind::SecondStep, user, &state, now)?;
                Ok(options)
            })
            .await?;
        Ok(PasskeyCeremony {
            token: SecretString::from(token),
            options,
        })
    }

    /// Inside the second step's transaction: takes the ceremony and verifies the passkey's
    /// answer for `user`. `Ok(None)` when there is no such ceremony (start again); `Ok(Some(false))`
    /// for an answer that is refused.
    pub(super) fn spend_passkey(
        &self,
        conn: &mut Conn,
        user: &User,
        ceremony: &SecretString,
        credential: Value,
        origin: &Origin,
        now: i64,
    ) -> Result<Option<bool>, ApiError> {
        let token_hash = session_key_hash(ceremony.expose_secret());
        let Some(state) = take(conn, &token_hash, Kind::SecondStep, Some(user.id), now)? else {
            return Ok(None);
        };
        let Ok(assertion) = webauthn::parse_assertion(credential) else {
            return Ok(Some(false));
        };
        let Some(passkey) = store::by_credential_id(conn, &assertion.credential_id())?
            .filter(|p| p.user_id == user.id)
        else {
            return Ok(Some(false));
        };
        let rp = self.relying_party()?;
        let checked = check(rp.finish_second_step(&state, &assertion, &passkey.credential));
        // A refusal's `second_factor_failed` event is the second step's to record.
        Ok(Some(
            self.record_check(conn, &passkey, checked, origin, now)?,
        ))
    }

    /// Records what a checked answer means for the passkey: on success its new counter, backup
    /// state and last use, and the `passkey_used` event; for a counter that went back, the
    /// `passkey_counter_regressed` event. Whether it verified.
    fn record_check(
        &self,
        conn: &mut Conn,
        passkey: &PasskeyRow,
        checked: Checked,
        origin: &Origin,
        now: i64,
    ) -> Result<bool, ApiError> {
        let kept = self.events_kept;
        let (kind, verified) = match checked {
            Checked::Verified(verified) => {
                store::record_use(
                    conn,
                    passkey.id,
                    &Use {
                        credential: verified.stored.as_deref(),
                        sign_count: verified.sign_count,
                        backup_eligible: verified.backup_eligible,
                        backed_up: verified.backed_up,
                        at: now,
                    },
                )?;
                (EventKind::PasskeyUsed, true)
            }
            Checked::Rejected(Rejected::CounterRegressed) => {
                crate::audit!(
                    warn,
                    event = "passkey_counter_regressed",
                    user_id = passkey.user_id,
                    "a passkey's signature counter went back: it may have been copied"
                );
                (EventKind::PasskeyCounterRegressed, false)
            }
            Checked::Rejected(Rejected::Invalid(why)) => {
                tracing::info!(user_id = passkey.user_id, reason = %why, "passkey answer refused");
                return Ok(false);
            }
        };
        events::record_with_detail(
            conn,
            passkey.user_id,
            kind,
            Some(&passkey.name),
            origin,
            now,
            kept,
        )?;
        Ok(verified)
    }

    /// Whether the user has passkeys (inside the login's transaction: the second step offers
    /// them).
    pub(super) fn second_step_methods(
        conn: &mut Conn,
        user_id: i32,
    ) -> diesel::QueryResult<Vec<SecondFactorMethod>> {
        let mut methods = vec![SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode];
        if store::count_for_user(conn, user_id)? > 0 {
            methods.push(SecondFactorMethod::Passkey);
        }
        Ok(methods)
    }
}

fn check(result: Result<Verified, Rejected>) -> Checked {
    match result {
        Ok(v) => Checked::Verified(v),
        Err(e) => Checked::Rejected(e),
    }
}

/// The passkey an assertion names and its owner, when the user handle it returned (if any) is
/// that owner's.
fn owner(conn: &mut Conn, assertion: &Assertion) -> Result<Option<(PasskeyRow, User)>, ApiError> {
    let Some(passkey) = store::by_credential_id(conn, &assertion.credential_id())? else {
        return Ok(None);
    };
    let handle = store::find_handle(conn, passkey.user_id)?;
    if assertion.user_handle().is_some_and(|h| Some(h) != handle) {
        return Ok(None);
    }
    let Some(credentials) = users::find_credentials_by_id(conn, passkey.user_id)? else {
        return Ok(None);
    };
    Ok(Some((passkey, User::from(&credentials))))
}

fn insert_ceremony(
    conn: &mut Conn,
    token_hash: &str,
    kind: Kind,
    user_id: Option<i32>,
    state: &str,
    now: i64,
) -> diesel::QueryResult<()> {
    store::insert_ceremony(
        conn,
        &NewCeremony {
            token_hash,
            kind: kind.as_str(),
            user_id,
            state,
            created_at: now,
            expires_at: now + CEREMONY_SECS,
        },
    )
}

/// Takes the ceremony of `token_hash` if it is of `kind` and `user`: its state. A ceremony of
/// another kind or user is taken too (spent), and is nothing.
fn take(
    conn: &mut Conn,
    token_hash: &str,
    kind: Kind,
    user: Option<i32>,
    now: i64,
) -> diesel::QueryResult<Option<String>> {
    Ok(store::take_ceremony(conn, token_hash, now)?
        .filter(|row| row.kind == kind.as_str() && row.user_id == user)
        .map(|row| row.state))
}

fn malformed(why: String) -> ApiError {
    ApiError::Validation(vec![FieldError::new(
        "credential",
        FieldCode::Malformed,
        format!("The credential is not what the browser's WebAuthn call returns: {why}."),
    )])
}
