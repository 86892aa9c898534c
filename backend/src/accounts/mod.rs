//! The use cases: one async function per thing a user or an administrator does (register, log in,
//! log out, change the password, delete the account, list and revoke sessions, list events, the
//! admin commands) and the session check. Each takes domain values, returns a typed outcome or an
//! [`ApiError`], and owns its database work: every use case that writes more than once does it in
//! **one** transaction ([`Db::write`]), so a failure leaves nothing half-done. Audit log lines and
//! metrics are written here, once, never by the HTTP layer.
//!
//! This layer knows nothing of HTTP: no actix, no cookies, no status codes (a test in
//! `tests/api/architecture.rs` checks). Handlers (`crate::routes`) translate a request into a
//! call and the outcome into a response; the admin command line (`crate::cli`) calls the same
//! functions.

mod account;
mod admin;
mod login;
mod passkeys;
mod second_factor;
mod session;

pub use account::{EventEntry, SessionEntry};
pub use admin::{ImportOutcome, ImportRow, UserListing};
pub use login::{LoginAttempt, LoginOutcome, Registration};
pub use passkeys::{PasskeyCeremony, PasskeyEntry, PasskeyLoginOutcome};
pub use second_factor::{
    ENROLMENT_SECS, PENDING_LOGIN_SECS, PendingLogin, SecondFactorMethod, SecondFactorProof,
    SecondFactorStatus, SecondStepOutcome, TotpEnrolment,
};
pub use session::CLEANUP_BATCH;

use secrecy::SecretString;

use crate::auth::{Passwords, RelyingParty, TotpSealer, VerifyOutcome};
use crate::clock::{Clock, secs};
use crate::config::Settings;
use crate::db::sessions::{Liveness, NewSession};
use crate::db::throttles::{self, Attempt};
use crate::db::users::Credentials;
use crate::db::{self, Conn, Db, events};
use crate::domain::{
    EventKind, Origin, PasswordPolicy, SessionState, StartedSession, User, new_public_id,
    new_session_key, session_key_hash,
};
use crate::error::ApiError;
use crate::metrics::{LoginOutcome as LoginMetric, Metrics};

/// Live sessions one user may have; a login beyond it ends the least recently used. (A
/// thousand logins must not make a thousand sessions, nor a listing of them.)
pub const MAX_SESSIONS_PER_USER: i64 = 50;

/// Everything the use cases need, cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Db,
    passwords: Passwords,
    clock: Clock,
    metrics: Metrics,
    policy: PasswordPolicy,
    /// Failed password checks per account before the throttle locks it (0: off).
    throttle_after: u32,
    idle_secs: i64,
    max_age_secs: i64,
    /// "Last seen" is written at most this often (see [`Accounts::touch_every`]).
    touch_every: i64,
    /// Security events kept per user (the newest); older ones are pruned as new ones arrive.
    events_kept: i64,
    /// Seals authenticator secrets; `None` where no server key is known (the admin commands,
    /// which never enrol or check codes).
    totp: Option<TotpSealer>,
    /// The issuer authenticator apps show.
    totp_issuer: String,
    /// The relying party passkeys are bound to, or why passkeys cannot work with this
    /// configuration (an IP address for an origin, plain http beyond localhost).
    passkeys: Result<RelyingParty, String>,
}

/// Why a password is being checked: named in audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Login,
    ChangePassword,
    DeleteAccount,
    /// Setting up, turning off or renewing the recovery codes of the second factor.
    SecondFactor,
    /// Adding or removing a passkey.
    Passkey,
}

impl Check {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::ChangePassword => "change_password",
            Self::DeleteAccount => "delete_account",
            Self::SecondFactor => "second_factor",
            Self::Passkey => "passkey",
        }
    }
}

/// The result of a password check behind the account throttle.
enum Checked {
    /// Refused before any hash was computed.
    Locked { retry_after: u64 },
    /// Wrong password, or no such account (`credentials` is then `None`).
    Mismatch { credentials: Option<Credentials> },
    /// Right password; `rehash` is a new PHC string when the stored hash was weak or legacy.
    Match {
        credentials: Credentials,
        rehash: Option<String>,
    },
}

impl Accounts {
    pub fn new(
        db: Db,
        passwords: Passwords,
        clock: Clock,
        metrics: Metrics,
        settings: &Settings,
    ) -> Self {
        let idle_secs = secs(settings.session_idle_timeout);
        Self {
            db,
            passwords,
            clock,
            metrics,
            policy: settings.password_policy(),
            throttle_after: settings.login_throttle_after,
            idle_secs,
            max_age_secs: secs(settings.session_max_age),
            touch_every: Self::touch_every(idle_secs),
            events_kept: i64::from(settings.events_per_user),
            totp: None,
            totp_issuer: settings.totp_issuer.clone(),
            passkeys: Err("the server has not bound its address yet".to_owned()),
        }
    }

    /// Lets the use cases register and check passkeys for this relying party, or records why
    /// they cannot (said by every passkey endpoint's answer).
    pub fn with_relying_party(mut self, relying_party: Result<RelyingParty, String>) -> Self {
        self.passkeys = relying_party;
        self
    }

    /// The origin passkeys are accepted from, or why there is none.
    pub fn passkey_origin(&self) -> Result<&str, &str> {
        match &self.passkeys {
            Ok(rp) => Ok(rp.origin()),
            Err(why) => Err(why),
        }
    }

    /// Lets the use cases seal and open authenticator secrets with a key derived from the
    /// server's secret key (the cookie key).
    pub fn with_secret_key(mut self, secret_key: &[u8]) -> Self {
        self.totp = Some(TotpSealer::from_secret_key(secret_key));
        self
    }

    /// "Last seen" is refreshed at most once a minute, and often enough that a short idle
    /// timeout (tests use seconds) still measures activity.
    pub fn touch_every(idle_secs: i64) -> i64 {
        (idle_secs / 4).clamp(0, 60)
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn liveness(&self) -> Liveness {
        Liveness {
            now: self.clock.now(),
            idle_secs: self.idle_secs,
        }
    }

    /// Checks `password` behind the per-account throttle. The attempt is counted (and a lock
    /// decided) in one write transaction together with reading the credentials, before any hash
    /// is computed, so parallel guesses on any number of instances cannot slip past the limit.
    /// A success does *not* reset the count here: the caller does it in its own transaction
    /// (see [`Accounts::forgive`]), together with what the success changes.
    async fn check_password(
        &self,
        throttle_key: &str,
        find: impl FnOnce(&mut Conn) -> diesel::QueryResult<Option<Credentials>> + Send + 'static,
        password: SecretString,
        check: Check,
    ) -> Result<Checked, ApiError> {
        let threshold = self.throttle_after;
        let key = throttle_key.to_owned();
        let now_ms = self.clock.now_ms();
        let (credentials, attempt) = if threshold > 0 {
            self.db
                .write(move |c| {
                    let credentials = find(c)?;
                    let attempt = throttles::begin_attempt(c, &key, now_ms, threshold)?;
                    Ok::<_, ApiError>((credentials, attempt))
                })
                .await?
        } else {
            let allowed = Attempt::Allowed { failures: 0 };
            self.db
                .run(move |c| Ok::<_, ApiError>((find(c)?, allowed)))
                .await?
        };
        if let Attempt::Locked { retry_after } = attempt {
            crate::audit!(
                warn,
                event = "login_throttled",
                action = check.as_str(),
                username = %throttle_key,
                user_id = credentials.as_ref().map(|c| c.id),
                retry_after,
                "attempt refused: too many failed attempts for this account"
            );
            return Ok(Checked::Locked {
                retry_after: retry_after.max(1),
            });
        }
        let stored = credentials.as_ref().map(|c| c.password_hash.clone());
        Ok(
            match (credentials, self.passwords.verify(password, stored).await?) {
                (Some(credentials), VerifyOutcome::Match { rehash }) => Checked::Match {
                    credentials,
                    rehash,
                },
                (credentials, _) => Checked::Mismatch { credentials },
            },
        )
    }

    /// Forgives the throttle streak of `throttle_key`, inside the caller's transaction.
    fn forgive(&self, conn: &mut Conn, throttle_key: &str) -> diesel::QueryResult<()> {
        if self.throttle_after > 0 {
            throttles::reset(conn, throttle_key)?;
        }
        Ok(())
    }

    /// Records a wrong password for an existing account (the user sees it in their activity).
    async fn record_failure(&self, user_id: i32, origin: Origin) -> Result<(), ApiError> {
        let at = self.clock.now();
        let kept = self.events_kept;
        self.db
            .run(move |c| {
                Ok::<_, ApiError>(events::record(
                    c,
                    user_id,
                    EventKind::LoginFailed,
                    &origin,
                    at,
                    kept,
                )?)
            })
            .await
    }

    /// Writes a new session row for `user` inside the caller's transaction and returns its key
    /// and state. `logged_in_at` is now for a login, and the original login time for a renewal,
    /// so that renewing never extends the absolute lifetime. Beyond
    /// [`MAX_SESSIONS_PER_USER`], the user's least recently used sessions end.
    fn insert_session(
        &self,
        conn: &mut Conn,
        user: User,
        remember: bool,
        logged_in_at: i64,
        origin: &Origin,
    ) -> diesel::QueryResult<StartedSession> {
        let now = self.clock.now();
        let key = new_session_key();
        let state = SessionState {
            user,
            public_id: new_public_id(),
            logged_in_at,
            expires_at: logged_in_at.saturating_add(self.max_age_secs),
            remember,
        };
        db::sessions::insert(
            conn,
            &NewSession {
                public_id: &state.public_id,
                key_hash: &session_key_hash(&key),
                user_id: state.user.id,
                remember,
                user_agent: origin.user_agent.as_deref(),
                ip: origin.ip.as_deref(),
                created_at: now,
                last_seen_at: now,
                expires_at: state.expires_at,
                logged_in_at,
            },
        )?;
        let ended = db::sessions::keep_newest_for_user(conn, state.user.id, MAX_SESSIONS_PER_USER)?;
        if ended > 0 {
            crate::audit!(
                info,
                event = "sessions_evicted",
                user_id = state.user.id,
                ended,
                "the least recently used sessions ended: too many"
            );
        }
        Ok(StartedSession {
            key: SecretString::from(key),
            state,
        })
    }

    fn count_login(&self, outcome: LoginMetric) {
        self.metrics.login(outcome);
    }

    /// The audit line and metric of a second step or passkey sign-in that the account throttle
    /// refused (`action`: what was attempted).
    fn record_throttled(&self, action: &str, user_id: Option<i32>, retry_after: u64) {
        crate::audit!(
            warn,
            event = "login_throttled",
            action,
            user_id,
            retry_after,
            "attempt refused: too many failed attempts for this account"
        );
        self.count_login(LoginMetric::Throttled);
    }
}

impl From<&Credentials> for User {
    fn from(c: &Credentials) -> Self {
        Self {
            id: c.id,
            username: c.username.clone(),
            created_at: c.created_at,
        }
    }
}

impl From<&db::users::UserRow> for User {
    fn from(u: &db::users::UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: u.created_at,
        }
    }
}
