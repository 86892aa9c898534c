//! Sessions as actix-session and actix-identity see them, over the typed [`SessionState`] that
//! the use cases write. This module is the only place that knows the session state's string
//! keys, and the only place that decides the cookie's lifetime ("remember me").
//!
//! - [`DbSessionStore`] is the actix-session `SessionStore`: `load` asks the session check use
//!   case (`Accounts::session`) and hands actix-session a map built from the typed state;
//!   `save` never writes, because a session row is written by the use case that starts the
//!   session (login, password change), inside that use case's transaction.
//! - [`begin`] starts, in the client, a session a use case has written: a new key (so no
//!   fixation), the typed state, and the cookie's lifetime.
//! - [`AuthUser`] is the extractor for handlers that need a logged-in user.
//! - [`remember_cookie`] gives the session cookie a `Max-Age` when its session is remembered
//!   (actix-session's cookie lifecycle is global; "remember" is per session).

use std::collections::HashMap;
use std::future::{Ready, ready};

use actix_identity::{Identity, IdentityExt as _};
use actix_session::SessionExt as _;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use secrecy::{ExposeSecret as _, SecretString};

use crate::accounts::Accounts;
use crate::config::Settings;
use crate::domain::{SessionState, StartedSession};
use crate::error::ApiError;

type State = HashMap<String, String>;

/// actix-identity's keys (it reads the user id and the login time to enforce its deadline).
const IDENTITY_USER_ID: &str = "actix_identity.user_id";
const IDENTITY_LOGGED_IN_AT: &str = "actix_identity.logged_in_at";
/// The typed state, as JSON.
const SESSION: &str = "latchkey.session";
/// The key of a session a use case has just written: handed from [`begin`] to
/// [`DbSessionStore::save`] within one request, never stored.
const NEW_KEY: &str = "latchkey.new_key";

#[derive(Clone)]
pub struct DbSessionStore {
    accounts: Accounts,
}

impl DbSessionStore {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let Some(session) = self
            .accounts
            .session(session_key.as_ref())
            .await
            .map_err(|e| LoadError::Other(e.into()))?
        else {
            return Ok(None);
        };
        let state = (|| {
            Ok::<_, serde_json::Error>(State::from([
                (
                    IDENTITY_USER_ID.to_owned(),
                    json(&session.user.id.to_string())?,
                ),
                (
                    IDENTITY_LOGGED_IN_AT.to_owned(),
                    json(&session.logged_in_at)?,
                ),
                (SESSION.to_owned(), json(&session)?),
            ]))
        })()
        .map_err(|e| LoadError::Deserialization(e.into()))?;
        Ok(Some(state))
    }

    async fn save(
        &self,
        state: State,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, SaveError> {
        let key: String = state
            .get(NEW_KEY)
            .and_then(|v| serde_json::from_str(v).ok())
            .ok_or_else(|| {
                SaveError::Other(anyhow::anyhow!(
                    "a session is started only by a use case that wrote its row (http::session::begin)"
                ))
            })?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        _state: State,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<SessionKey, UpdateError> {
        // The row is the state and changes only through use cases; nothing to write.
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        _session_key: &SessionKey,
        _ttl: &actix_web::cookie::time::Duration,
    ) -> Result<(), anyhow::Error> {
        // Expiry lives in the row and is enforced by the session check; the middleware is
        // configured never to call this (TTL extension only on state changes).
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        // Usually already gone (the logout or password change use case deleted the row in its
        // transaction); a purge by actix-identity's own deadline lands here too.
        Ok(self.accounts.forget_session(session_key.as_ref()).await?)
    }
}

/// How long the browser keeps the session cookie, decided by [`begin`] and applied by
/// [`remember_cookie`].
#[derive(Debug, Clone, Copy)]
struct CookieMaxAge(i64);

/// Starts `session` in the client: a new cookie key (actix-identity renews the session), the
/// typed state, and a `Max-Age` when the session is remembered (the time left until its
/// absolute end), otherwise a browser-session cookie.
pub fn begin(req: &HttpRequest, session: StartedSession, now: i64) -> Result<(), ApiError> {
    let StartedSession { key, state } = session;
    Identity::login(&req.extensions(), state.user.id.to_string())
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("identity login")))?;
    let store = req.get_session();
    let insert = |name: &str, value: String| {
        store
            .insert(name, value)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("session state")))
    };
    insert(
        SESSION,
        json(&state).map_err(|e| ApiError::Internal(e.into()))?,
    )?;
    insert(NEW_KEY, key.expose_secret().to_owned())?;
    if state.remember {
        req.extensions_mut()
            .insert(CookieMaxAge((state.expires_at - now).max(0)));
    }
    Ok(())
}

/// The cookie that carries a login waiting for its second step: HttpOnly, `SameSite=Strict`
/// (only this site's own pages finish a login), as long as the pending login lasts. An empty
/// `token` with no lifetime expires it.
pub fn pending_login_cookie(
    settings: &Settings,
    token: Option<&SecretString>,
    max_age_secs: i64,
) -> Cookie<'static> {
    let value = token
        .map(|t| t.expose_secret().to_owned())
        .unwrap_or_default();
    let mut cookie = Cookie::build(settings.pending_login_cookie_name(), value)
        .path("/")
        .http_only(true)
        .secure(settings.cookie_is_secure())
        .same_site(SameSite::Strict)
        .finish();
    if token.is_some() {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(max_age_secs));
    } else {
        cookie.make_removal();
    }
    cookie
}

/// The token of the login waiting for its second step, from its cookie.
pub fn pending_login_token(req: &HttpRequest, settings: &Settings) -> Option<SecretString> {
    req.cookie(settings.pending_login_cookie_name())
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

/// Ends the session in the client: the cookie is expired (the row is deleted by the use case).
pub fn end(identity: Identity) {
    identity.logout();
}

/// The logged-in user's session, or 401 `not_authenticated`. Handlers never touch session keys.
#[derive(Debug, Clone)]
pub struct AuthUser(pub SessionState);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    // actix-identity has checked its login deadline; its id must be the state's user.
    let identity = req.get_identity().map_err(|_| ApiError::NotAuthenticated)?;
    let id = identity.id().map_err(|_| ApiError::NotAuthenticated)?;
    let session: SessionState = req
        .get_session()
        .get(SESSION)
        .ok()
        .flatten()
        .filter(|s: &SessionState| s.user.id.to_string() == id)
        .ok_or(ApiError::NotAuthenticated)?;
    Ok(AuthUser(session))
}

/// Middleware (outside the session middleware): gives a newly set session cookie the
/// `Max-Age` that [`begin`] decided, through the cookie parser, never by editing header text.
pub async fn remember_cookie(
    cookie_name: &'static str,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let Some(CookieMaxAge(secs)) = res.request().extensions().get::<CookieMaxAge>().copied() else {
        return Ok(res);
    };
    let cookies: Vec<Cookie<'static>> = res.response().cookies().map(|c| c.into_owned()).collect();
    res.headers_mut().remove(header::SET_COOKIE);
    for mut cookie in cookies {
        if cookie.name() == cookie_name && !cookie.value().is_empty() {
            cookie.set_max_age(actix_web::cookie::time::Duration::seconds(secs));
        }
        res.response_mut()
            .add_cookie(&cookie)
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    Ok(res)
}
