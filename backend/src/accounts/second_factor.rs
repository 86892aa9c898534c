//! The second factor: set up an authenticator app (TOTP), turn it off, renew the recovery codes,
//! and the login's second step. Every decision that must hold across instances (a time step
//! accepted once, a recovery code spent once, a pending login finished once, wrong codes counted
//! by the account throttle) is made inside one write transaction, in the database.

use secrecy::{ExposeSecret as _, SecretString};

use super::{Accounts, Check};
use crate::auth::{Authenticator, TotpSealer};
use crate::db::{self, Conn, events, second_factors, throttles, users};
use crate::domain::{
    EventKind, Origin, RECOVERY_CODE_COUNT, SessionState, StartedSession, User, Username,
    new_recovery_code, new_session_key, normalize_recovery_code, parse_totp_code,
    recovery_code_hash, session_key_hash,
};
use crate::error::ApiError;
use crate::metrics::LoginOutcome as LoginMetric;

/// How long a login may wait for its second step.
pub const PENDING_LOGIN_SECS: i64 = 5 * 60;
/// How long a started set-up waits for its first code.
pub const ENROLMENT_SECS: i64 = 15 * 60;

/// A second factor a login can be completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorMethod {
    Totp,
    RecoveryCode,
    Passkey,
}

impl SecondFactorMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
        }
    }
}

/// A login whose password was right, waiting for its second step: the token goes to the client
/// (in a cookie), only its hash is stored.
#[derive(Debug)]
pub struct PendingLogin {
    pub token: SecretString,
    pub methods: Vec<SecondFactorMethod>,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// What the user offers at the second step, as typed.
#[derive(Debug)]
pub enum SecondFactorProof {
    Code(SecretString),
    RecoveryCode(SecretString),
    /// A passkey's answer to the ceremony `ceremony` (started for this pending login).
    Passkey {
        ceremony: SecretString,
        credential: serde_json::Value,
    },
}

/// How a second step ended.
#[derive(Debug)]
pub enum SecondStepOutcome {
    /// The session is written; start it in the client. `recovery_codes_left` is set when a
    /// recovery code was spent.
    LoggedIn {
        session: StartedSession,
        recovery_codes_left: Option<i64>,
    },
    /// No such pending login, or it expired: log in with the password again.
    Expired,
    /// The passkey ceremony named was used or expired: start it again.
    CeremonyExpired,
    /// A wrong, replayed or malformed code (counted by the account throttle).
    Invalid,
    /// Too many failures for this account: refused without checking.
    Throttled { retry_after: u64 },
}

/// A started set-up: what the user's app needs. The secret is shown this once.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub secret_base32: SecretString,
    pub uri: SecretString,
    pub qr_svg: String,
    /// Seconds left to confirm it.
    pub expires_in: i64,
}

/// Which second factors the user has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorStatus {
    /// When the authenticator app was confirmed; `None` when it is off.
    pub totp_enabled_at: Option<i64>,
    pub recovery_codes_left: i64,
    pub passkeys: i64,
}

/// New recovery codes as shown once, and their stored hashes.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
        .map(|_| new_recovery_code())
        .collect();
    let hashes = codes
        .iter()
        .map(|code| {
            let normalized = normalize_recovery_code(code).expect("a fresh code is well formed");
            recovery_code_hash(&normalized)
        })
        .collect();
    (codes, hashes)
}

impl Accounts {
    fn sealer(&self) -> Result<&TotpSealer, ApiError> {
        self.totp.as_ref().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "no server key to seal authenticator secrets with (Accounts::with_secret_key)"
            ))
        })
    }

    /// Which second factors the user has.
    pub async fn second_factors(
        &self,
        session: &SessionState,
    ) -> Result<SecondFactorStatus, ApiError> {
        let id = session.user.id;
        self.db
            .run(move |c| {
                let totp = second_factors::find_totp(c, id)?;
                let left = second_factors::unused_recovery_codes(c, id)?;
                Ok::<_, ApiError>(SecondFactorStatus {
                    totp_enabled_at: totp.and_then(|t| t.confirmed_at),
                    recovery_codes_left: left,
                    passkeys: db::passkeys::count_for_user(c, id)?,
                })
            })
            .await
    }

    /// Starts setting up an authenticator app after re-checking the password (a right one
    /// forgives the account's throttle streak, as a login does): a new secret,
    /// sealed and stored unconfirmed (replacing an earlier unconfirmed one). Nothing changes for
    /// logins until [`Accounts::confirm_totp`].
    pub async fn start_totp(
        &self,
        session: &SessionState,
        password: SecretString,
        origin: Origin,
    ) -> Result<TotpEnrolment, ApiError> {
        self.recheck(session, password, Check::SecondFactor, &origin)
            .await?;
        let secret = Authenticator::new_secret();
        let authenticator =
            Authenticator::new(secret.clone(), &self.totp_issuer, &session.user.username)?;
        let sealed = self.sealer()?.seal(session.user.id, &secret);
        let id = session.user.id;
        let now = self.clock.now();
        let this = self.clone();
        let key = Username::throttle_key(&session.user.username);
        let started = self
            .db
            .write(move |c| {
                this.forgive(c, &key)?;
                Ok::<_, ApiError>(second_factors::begin_enrolment(c, id, &sealed, now)?)
            })
            .await?;
        if !started {
            return Err(ApiError::SecondFactorEnabled);
        }
        crate::audit!(
            info,
            event = "second_factor_enrolment_started",
            user_id = id,
            "authenticator set-up started"
        );
        Ok(TotpEnrolment {
            secret_base32: SecretString::from(authenticator.secret_base32()),
            uri: SecretString::from(authenticator.uri()?),
            qr_svg: authenticator.qr_svg()?,
            expires_in: ENROLMENT_SECS,
        })
    }

    /// Confirms the set-up with a current code: the factor is on from now, that code's step is
    /// spent, and the first recovery codes are returned (shown once; only hashes are kept).
    pub async fn confirm_totp(
        &self,
        session: &SessionState,
        code: SecretString,
        origin: Origin,
    ) -> Result<Vec<String>, ApiError> {
        let id = session.user.id;
        let now = self.clock.now();
        let pending = self
            .db
            .run(move |c| Ok::<_, ApiError>(second_factors::find_totp(c, id)?))
            .await?
            .filter(|t| t.confirmed_at.is_none() && t.created_at + ENROLMENT_SECS > now)
            .ok_or(ApiError::NoEnrolment)?;
        let secret = self
            .sealer()?
            .open(id, &pending.secret_sealed)
            .ok_or(ApiError::NoEnrolment)?;
        let authenticator = Authenticator::new(secret, &self.totp_issuer, &session.user.username)?;
        let code = parse_totp_code(code.expose_secret()).ok_or(ApiError::WrongCode)?;
        let step = authenticator
            .matching_step(&code, unix_secs(now))
            .ok_or(ApiError::WrongCode)?;
        let step = i64::try_from(step).map_err(|e| ApiError::Internal(e.into()))?;
        let (codes, hashes) = new_recovery_codes();
        let kept = self.events_kept;
        self.db
            .write(move |c| {
                if !second_factors::confirm(c, id, step, now)? {
                    return Err(ApiError::NoEnrolment);
                }
                second_factors::replace_recovery_codes(c, id, &hashes, now)?;
                events::record(c, id, EventKind::SecondFactorEnabled, &origin, now, kept)?;
                Ok(())
            })
            .await?;
        crate::audit!(
            info,
            event = "second_factor_enabled",
            user_id = id,
            "authenticator app turned on"
        );
        Ok(codes)
    }

    /// Turns the authenticator app off after re-checking the password: the factor, its
    /// recovery codes and any login waiting for it, in one transaction.
    pub async fn disable_totp(
        &self,
        session: &SessionState,
        password: SecretString,
        origin: Origin,
    ) -> Result<(), ApiError> {
        self.recheck(session, password, Check::SecondFactor, &origin)
            .await?;
        let id = session.user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let this = self.clone();
        let key = Username::throttle_key(&session.user.username);
        self.db
            .write(move |c| {
                this.forgive(c, &key)?;
                if !remove_second_factor(c, id)? {
                    return Err(ApiError::SecondFactorNotEnabled);
                }
                events::record(c, id, EventKind::SecondFactorDisabled, &origin, now, kept)?;
                Ok(())
            })
            .await?;
        crate::audit!(
            info,
            event = "second_factor_disabled",
            user_id = id,
            "authenticator app turned off"
        );
        Ok(())
    }

    /// Replaces the recovery codes after re-checking the password; the old ones stop working.
    pub async fn regenerate_recovery_codes(
        &self,
        session: &SessionState,
        password: SecretString,
        origin: Origin,
    ) -> Result<Vec<String>, ApiError> {
        self.recheck(session, password, Check::SecondFactor, &origin)
            .await?;
        let id = session.user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let (codes, hashes) = new_recovery_codes();
        let this = self.clone();
        let key = Username::throttle_key(&session.user.username);
        self.db
            .write(move |c| {
                this.forgive(c, &key)?;
                let enabled = second_factors::find_totp(c, id)?.and_then(|t| t.confirmed_at);
                if enabled.is_none() {
                    return Err(ApiError::SecondFactorNotEnabled);
                }
                second_factors::replace_recovery_codes(c, id, &hashes, now)?;
                events::record(
                    c,
                    id,
                    EventKind::RecoveryCodesRegenerated,
                    &origin,
                    now,
                    kept,
                )?;
                Ok(())
            })
            .await?;
        crate::audit!(
            info,
            event = "recovery_codes_regenerated",
            user_id = id,
            "recovery codes replaced"
        );
        Ok(codes)
    }

    /// Inside the login's transaction, after the right password: when the user has a second
    /// factor, writes a pending login and returns it (the session is not started).
    pub(super) fn begin_second_step(
        &self,
        conn: &mut Conn,
        user_id: i32,
        remember: bool,
        now: i64,
    ) -> diesel::QueryResult<Option<PendingLogin>> {
        let enabled = second_factors::find_totp(conn, user_id)?.and_then(|t| t.confirmed_at);
        if enabled.is_none() {
            return Ok(None);
        }
        let token = new_session_key();
        second_factors::insert_pending(
            conn,
            &second_factors::NewPending {
                token_hash: &session_key_hash(&token),
                user_id,
                remember,
                created_at: now,
                expires_at: now + PENDING_LOGIN_SECS,
            },
        )?;
        Ok(Some(PendingLogin {
            token: SecretString::from(token),
            methods: Self::second_step_methods(conn, user_id)?,
            expires_in: PENDING_LOGIN_SECS,
        }))
    }

    /// The login's second step. In one write transaction: the pending login is found, the
    /// attempt counted by the account throttle (as a password attempt is), the code checked and
    /// spent (a time step or a recovery code is accepted once, on every instance), and on
    /// success everything a password-only login writes: the pending login ended, the throttle
    /// forgiven, the events, a new session.
    pub async fn complete_second_step(
        &self,
        token: SecretString,
        proof: SecondFactorProof,
        origin: Origin,
    ) -> Result<SecondStepOutcome, ApiError> {
        let token_hash = session_key_hash(token.expose_secret());
        let now = self.clock.now();
        let now_ms = self.clock.now_ms();
        let threshold = self.throttle_after;
        let kept = self.events_kept;
        let this = self.clone();
        let used = match &proof {
            SecondFactorProof::Code(_) => SecondFactorMethod::Totp,
            SecondFactorProof::RecoveryCode(_) => SecondFactorMethod::RecoveryCode,
            SecondFactorProof::Passkey { .. } => SecondFactorMethod::Passkey,
        };
        let (outcome, user_id) = self
            .db
            .write(move |c| {
                let Some(pending) = second_factors::find_pending(c, &token_hash, now)? else {
                    return Ok::<_, ApiError>((SecondStepOutcome::Expired, None));
                };
                let Some(credentials) = users::find_credentials_by_id(c, pending.user_id)? else {
                    return Ok((SecondStepOutcome::Expired, None));
                };
                let user = User::from(&credentials);
                let key = Username::throttle_key(&user.username);
                if threshold > 0
                    && let throttles::Attempt::Locked { retry_after } =
                        throttles::begin_attempt(c, &key, now_ms, threshold)?
                {
                    return Ok((
                        SecondStepOutcome::Throttled {
                            retry_after: retry_after.max(1),
                        },
                        Some(user.id),
                    ));
                }
                let accepted = match proof {
                    SecondFactorProof::Code(code) => {
                        this.spend_code(c, &user, code.expose_secret(), now)?
                    }
                    SecondFactorProof::RecoveryCode(code) => {
                        spend_recovery_code(c, user.id, code.expose_secret(), now)?
                    }
                    SecondFactorProof::Passkey {
                        ceremony,
                        credential,
                    } => match this.spend_passkey(c, &user, &ceremony, credential, &origin, now)? {
                        Some(accepted) => accepted,
                        // The ceremony was spent or expired: start it again (the attempt still
                        // counts, as any attempt does until one succeeds).
                        None => {
                            return Ok((SecondStepOutcome::CeremonyExpired, Some(user.id)));
                        }
                    },
                };
                if !accepted || !second_factors::delete_pending(c, pending.id)? {
                    events::record(
                        c,
                        user.id,
                        EventKind::SecondFactorFailed,
                        &origin,
                        now,
                        kept,
                    )?;
                    return Ok((SecondStepOutcome::Invalid, Some(user.id)));
                }
                this.forgive(c, &key)?;
                let recovery_codes_left = if used == SecondFactorMethod::RecoveryCode {
                    let left = second_factors::unused_recovery_codes(c, user.id)?;
                    let detail = match left {
                        1 => "1 recovery code left".to_owned(),
                        n => format!("{n} recovery codes left"),
                    };
                    events::record_with_detail(
                        c,
                        user.id,
                        EventKind::RecoveryCodeUsed,
                        Some(&detail),
                        &origin,
                        now,
                        kept,
                    )?;
                    Some(left)
                } else {
                    None
                };
                events::record(c, user.id, EventKind::Login, &origin, now, kept)?;
                let user_id = user.id;
                let session = this.insert_session(c, user, pending.remember, now, &origin)?;
                Ok((
                    SecondStepOutcome::LoggedIn {
                        session,
                        recovery_codes_left,
                    },
                    Some(user_id),
                ))
            })
            .await?;
        match &outcome {
            SecondStepOutcome::LoggedIn {
                recovery_codes_left,
                ..
            } => {
                crate::audit!(
                    info,
                    event = "login_succeeded",
                    user_id,
                    second_factor = used.as_str(),
                    recovery_codes_left,
                    "logged in with a second factor"
                );
                self.count_login(LoginMetric::Success);
            }
            SecondStepOutcome::Invalid => {
                crate::audit!(
                    warn,
                    event = "second_factor_failed",
                    user_id,
                    method = used.as_str(),
                    "wrong, replayed or malformed second factor"
                );
                self.count_login(LoginMetric::SecondFactorFailure);
            }
            SecondStepOutcome::Throttled { retry_after } => {
                self.record_throttled("second_factor", user_id, *retry_after);
            }
            SecondStepOutcome::Expired | SecondStepOutcome::CeremonyExpired => {}
        }
        Ok(outcome)
    }

    /// Checks an authenticator code of `user` and spends its time step, inside the caller's
    /// transaction; `false` for a wrong, malformed or already used code.
    fn spend_code(
        &self,
        conn: &mut Conn,
        user: &User,
        typed: &str,
        now: i64,
    ) -> Result<bool, ApiError> {
        let Some(code) = parse_totp_code(typed) else {
            return Ok(false);
        };
        let Some(factor) =
            second_factors::find_totp(conn, user.id)?.filter(|t| t.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        let Some(secret) = self.sealer()?.open(user.id, &factor.secret_sealed) else {
            // Another server key (LATCHKEY_SECRET_KEY changed) or a damaged row: the user can
            // still log in with a recovery code, or an administrator resets the factor.
            tracing::error!(
                user_id = user.id,
                "an authenticator secret does not open with this server's key; was \
                 LATCHKEY_SECRET_KEY changed? Recovery codes still work"
            );
            return Ok(false);
        };
        let authenticator = Authenticator::new(secret, &self.totp_issuer, &user.username)?;
        let Some(step) = authenticator.matching_step(&code, unix_secs(now)) else {
            return Ok(false);
        };
        let step = i64::try_from(step).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(second_factors::use_step(conn, user.id, step)?)
    }

    /// Removes a user's second factors for an administrator (a lost device): the authenticator
    /// app, the recovery codes, every passkey, pending logins and every session, recorded in
    /// their activity. `Ok(None)` when the user had neither an authenticator app nor a passkey
    /// (nothing changes).
    pub async fn admin_reset_second_factor(
        &self,
        name: &Username,
    ) -> Result<(User, Option<usize>), ApiError> {
        let user = self.find_user(name).await?;
        let id = user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let ended = self
            .db
            .write(move |c| {
                let had_totp = remove_second_factor(c, id)?;
                // A lost or stolen device may hold a passkey, which signs in on its own.
                let passkeys = db::passkeys::delete_for_user(c, id)?;
                db::passkeys::delete_ceremonies_for_user(c, id)?;
                if !had_totp && passkeys == 0 {
                    return Ok::<_, ApiError>(None);
                }
                let ended = db::sessions::delete_for_user(c, id)?;
                let detail = reset_detail(had_totp, passkeys);
                events::record_with_detail(
                    c,
                    id,
                    EventKind::SecondFactorReset,
                    Some(&detail),
                    &Origin::admin_command_line(),
                    now,
                    kept,
                )?;
                Ok(Some(ended))
            })
            .await?;
        if let Some(ended) = ended {
            crate::audit!(
                info,
                event = "second_factor_reset",
                user_id = id,
                by = "admin",
                sessions_ended = ended,
                "second factor removed"
            );
        }
        Ok((user, ended))
    }
}

/// Spends one of the user's recovery codes, inside the caller's transaction; `false` for a
/// malformed, unknown or already used one.
fn spend_recovery_code(
    conn: &mut Conn,
    user_id: i32,
    typed: &str,
    now: i64,
) -> Result<bool, ApiError> {
    let Some(code) = normalize_recovery_code(typed) else {
        return Ok(false);
    };
    Ok(second_factors::use_recovery_code(
        conn,
        user_id,
        &recovery_code_hash(&code),
        now,
    )?)
}

/// Removes the user's authenticator, recovery codes and pending logins; whether a confirmed
/// factor was there (an unconfirmed set-up goes too, but does not count).
fn remove_second_factor(conn: &mut Conn, user_id: i32) -> diesel::QueryResult<bool> {
    let enabled = second_factors::find_totp(conn, user_id)?.and_then(|t| t.confirmed_at);
    second_factors::delete_totp(conn, user_id)?;
    second_factors::delete_recovery_codes(conn, user_id)?;
    second_factors::delete_pending_for_user(conn, user_id)?;
    Ok(enabled.is_some())
}

/// What an administrator's reset removed, as the user's activity says it.
fn reset_detail(had_totp: bool, passkeys: usize) -> String {
    let passkeys = match passkeys {
        0 => None,
        1 => Some("1 passkey".to_owned()),
        n => Some(format!("{n} passkeys")),
    };
    match (had_totp, passkeys) {
        (true, Some(p)) => format!("authenticator app and {p} removed"),
        (true, None) => "authenticator app removed".to_owned(),
        (false, Some(p)) => format!("{p} removed"),
        (false, None) => "nothing removed".to_owned(),
    }
}

fn unix_secs(now: i64) -> u64 {
    u64::try_from(now).unwrap_or(0)
}
