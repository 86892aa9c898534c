//! `AuthUser`: the logged-in user, or 401 `not_authenticated`. Handlers never touch session keys.
//!
//! The user is cached in the session state at login: a user's id, name and creation time never
//! change, and deleting a user deletes their sessions, so the session check is the one indexed
//! read of the session row.

use std::future::{Ready, ready};

use actix_identity::IdentityExt as _;
use actix_session::SessionExt as _;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::{Deserialize, Serialize};

use super::session_store::keys;
use crate::db::users::UserRow;
use crate::error::ApiError;

/// What the session remembers of its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i32,
    pub username: String,
    pub created_at: i64,
}

impl From<&UserRow> for SessionUser {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: SessionUser,
    /// The public id of the current session.
    pub session_id: Option<String>,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let identity = req.get_identity().map_err(|_| ApiError::NotAuthenticated)?;
    let id: i32 = identity
        .id()
        .ok()
        .and_then(|id| id.parse().ok())
        .ok_or(ApiError::NotAuthenticated)?;
    let session = req.get_session();
    let user: SessionUser = session
        .get(keys::USER)
        .ok()
        .flatten()
        .filter(|u: &SessionUser| u.id == id)
        .ok_or(ApiError::NotAuthenticated)?;
    let session_id = session.get::<String>(keys::PUBLIC_ID).ok().flatten();
    Ok(AuthUser { user, session_id })
}
