//! What an administrator does without the API (the `latchkey user …` and `import-flask`
//! commands): the same rules and the same one-transaction discipline as the API's use cases.
//! Administrator actions appear in the user's activity with the user agent "latchkey admin
//! command line".

use std::collections::{HashMap, HashSet};

use secrecy::{ExposeSecret as _, SecretString};

use super::Accounts;
use crate::db::{Conn, events, second_factors, sessions, throttles, users};
use crate::domain::{EventKind, Origin, PasswordHash, User, Username};
use crate::error::ApiError;

/// A user with their number of live sessions and their second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub user: User,
    pub live_sessions: i64,
    /// Whether logins need an authenticator code after the password.
    pub totp: bool,
    /// Passkeys registered.
    pub passkeys: i64,
}

/// One row of a foreign user table to import: an id for the report, a name and a stored hash.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub id: i64,
    pub username: Option<String>,
    pub password_hash: Option<String>,
}

/// What happened to one imported row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    AlreadyPresent,
    Skipped(String),
}

impl Accounts {
    /// Every user, oldest first, with their live sessions and second factor.
    pub async fn list_users(&self) -> Result<Vec<UserListing>, ApiError> {
        let live = self.liveness();
        let (all, counts, with_totp, passkeys) = self
            .db
            .run(move |c| {
                Ok::<_, ApiError>((
                    users::list(c)?,
                    sessions::count_live_by_user(c, live)?,
                    second_factors::users_with_totp(c)?,
                    crate::db::passkeys::counts(c)?,
                ))
            })
            .await?;
        let counts: HashMap<i32, i64> = counts.into_iter().collect();
        let passkeys: HashMap<i32, i64> = passkeys.into_iter().collect();
        let with_totp: HashSet<i32> = with_totp.into_iter().collect();
        Ok(all
            .iter()
            .map(|row| UserListing {
                user: User::from(row),
                live_sessions: counts.get(&row.id).copied().unwrap_or(0),
                totp: with_totp.contains(&row.id),
                passkeys: passkeys.get(&row.id).copied().unwrap_or(0),
            })
            .collect())
    }

    /// The user a name refers to; [`ApiError::NotFound`] when there is none.
    pub async fn find_user(&self, name: &Username) -> Result<User, ApiError> {
        let key = name.key().to_owned();
        self.db
            .run(move |c| Ok::<_, ApiError>(users::find_credentials(c, &key)?))
            .await?
            .map(|c| User::from(&c))
            .ok_or(ApiError::NotFound)
    }

    /// Deletes a user with their sessions, events and throttle state; returns how many sessions
    /// ended.
    pub async fn admin_delete_user(&self, name: &Username) -> Result<(User, usize), ApiError> {
        let user = self.find_user(name).await?;
        let (id, key) = (user.id, Username::throttle_key(&user.username));
        let ended = self
            .db
            .write(move |c| {
                let ended = sessions::delete_for_user(c, id)?;
                if !users::delete_by_id(c, id)? {
                    return Err(ApiError::NotFound);
                }
                throttles::reset(c, &key)?;
                Ok(ended)
            })
            .await?;
        crate::audit!(
            info,
            event = "account_deleted",
            user_id = id,
            by = "admin",
            "account deleted"
        );
        Ok((user, ended))
    }

    /// Sets a user's password (the configured policy applies) and ends all their sessions, in
    /// one transaction: a reset that left the old sessions alive would not be a reset.
    pub async fn admin_set_password(
        &self,
        name: &Username,
        password: SecretString,
    ) -> Result<(User, usize), ApiError> {
        let user = self.find_user(name).await?;
        self.policy
            .check("password", password.expose_secret(), name)
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let hash = self.passwords.hash(password).await?;
        let id = user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let ended = self
            .db
            .write(move |c| {
                if !users::set_hash(c, id, &hash, now)? {
                    return Err(ApiError::NotFound);
                }
                end_sessions_by_admin(c, id, EventKind::PasswordChanged, now, kept)
            })
            .await?;
        crate::audit!(
            info,
            event = "password_changed",
            user_id = id,
            by = "admin",
            "password set"
        );
        Ok((user, ended))
    }

    /// Ends every session of a user at once (a compromised account), recorded in their activity.
    pub async fn admin_logout(&self, name: &Username) -> Result<(User, usize), ApiError> {
        let user = self.find_user(name).await?;
        let id = user.id;
        let now = self.clock.now();
        let kept = self.events_kept;
        let ended = self
            .db
            .write(move |c| end_sessions_by_admin(c, id, EventKind::SessionsRevoked, now, kept))
            .await?;
        crate::audit!(
            info,
            event = "sessions_revoked",
            user_id = id,
            by = "admin",
            "sessions ended"
        );
        Ok((user, ended))
    }

    /// Imports users with their stored hashes, all or nothing (one transaction); with `dry_run`
    /// decides every row and writes nothing. Rows are taken in order: the older account wins a
    /// conflict. Running it twice changes nothing the second time.
    pub async fn import_users(
        &self,
        rows: Vec<ImportRow>,
        dry_run: bool,
    ) -> Result<Vec<(ImportRow, ImportOutcome)>, ApiError> {
        let now = self.clock.now();
        self.db
            .write(move |c| {
                let mut claimed: HashMap<String, (i64, String)> = HashMap::new();
                let mut report = Vec::with_capacity(rows.len());
                for row in rows {
                    let outcome = match decide(c, &row, &mut claimed)? {
                        Decision::Import(name, hash) => {
                            if !dry_run {
                                users::insert(
                                    c,
                                    &users::NewUser {
                                        username: name.display(),
                                        username_key: name.key(),
                                        username_skeleton: Some(&name.skeleton()),
                                        password_hash: &hash,
                                        created_at: now,
                                        updated_at: now,
                                    },
                                )?;
                            }
                            ImportOutcome::Imported
                        }
                        Decision::Present => ImportOutcome::AlreadyPresent,
                        Decision::Skip(why) => ImportOutcome::Skipped(why),
                    };
                    report.push((row, outcome));
                }
                Ok::<_, ApiError>(report)
            })
            .await
    }
}

/// Records what the administrator did and ends every session of the user (and any login waiting
/// for its second step), inside the caller's transaction; returns how many sessions ended.
fn end_sessions_by_admin(
    conn: &mut Conn,
    user_id: i32,
    kind: EventKind,
    now: i64,
    kept: i64,
) -> Result<usize, ApiError> {
    events::record(
        conn,
        user_id,
        kind,
        &Origin::admin_command_line(),
        now,
        kept,
    )?;
    // A login waiting for its second step would become a session after the reset.
    second_factors::delete_pending_for_user(conn, user_id)?;
    Ok(sessions::delete_for_user(conn, user_id)?)
}

enum Decision {
    Import(Username, String),
    Present,
    Skip(String),
}

fn decide(
    conn: &mut Conn,
    row: &ImportRow,
    claimed: &mut HashMap<String, (i64, String)>,
) -> diesel::QueryResult<Decision> {
    let raw = row.username.as_deref().unwrap_or_default();
    let name = match Username::parse(raw) {
        Ok(name) => name,
        Err(e) => {
            return Ok(Decision::Skip(format!(
                "invalid username ({}): {}",
                e.code, e.message
            )));
        }
    };
    // Claimed by key and by skeleton: a name that differs from an earlier row's only in case or
    // width, or only looks like it, is the same name.
    let skeleton = name.skeleton();
    let marks = [
        format!("key:{}", name.key()),
        format!("skeleton:{skeleton}"),
    ];
    if let Some((id, first)) = marks.iter().find_map(|mark| claimed.get(mark)) {
        return Ok(Decision::Skip(format!(
            "same name as {first:?} (Flask id {id}) once case, width and look-alike characters \
             are ignored, as Latchkey compares names; that older account was taken"
        )));
    }
    for mark in marks {
        claimed.insert(mark, (row.id, raw.to_owned()));
    }
    let hash = row.password_hash.clone().unwrap_or_default();
    if let Err(why) = check_hash(&hash) {
        return Ok(Decision::Skip(why));
    }
    let existing = users::find_credentials(conn, name.key())?;
    if existing.is_none()
        && let Some(lookalike) = users::find_by_skeleton(conn, &skeleton)?
    {
        return Ok(Decision::Skip(format!(
            "looks the same as the Latchkey user {:?} (id {}): another account",
            lookalike.username, lookalike.id
        )));
    }
    match existing {
        None => Ok(Decision::Import(name, hash)),
        Some(existing) if existing.password_hash == hash => Ok(Decision::Present),
        Some(existing) => Ok(Decision::Skip(format!(
            "the name is taken in Latchkey by {:?} (id {}) with a different password: another \
             account, or this user changed or upgraded their password since an earlier import",
            existing.username, existing.id
        ))),
    }
}

/// Whether Latchkey can verify this stored hash; the reason to skip the row when not. Never
/// prints the hash itself (a column named `password` might hold a plain password).
fn check_hash(stored: &str) -> Result<(), String> {
    let must_reset = "user must reset their password";
    if stored.is_empty() {
        return Err(format!("no password hash, {must_reset}"));
    }
    let scheme = werkzeug_method(stored);
    match PasswordHash::parse(stored) {
        Ok(_) => Ok(()),
        Err(_) if scheme.is_none() => Err(format!("not a Werkzeug password hash, {must_reset}")),
        Err(_) => {
            let scheme = scheme.unwrap_or_default();
            if scheme.starts_with("pbkdf2:sha256") {
                Err(format!("malformed {scheme} hash, {must_reset}"))
            } else {
                Err(format!("cannot verify ({scheme}), {must_reset}"))
            }
        }
    }
}

/// The hash method of a Werkzeug string without its parameters (`scrypt:32768:8:1$…` is
/// `scrypt`, `pbkdf2:sha1:260000$…` is `pbkdf2:sha1`), when it looks like one.
fn werkzeug_method(stored: &str) -> Option<String> {
    let (method, rest) = stored.split_once('$')?;
    if rest.is_empty() || method.is_empty() || method.len() > 64 {
        return None;
    }
    let parts: Vec<&str> = method
        .split(':')
        .filter(|p| !p.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let ok = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    ok.then(|| parts.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_that_cannot_be_verified_are_named_not_printed() {
        assert_eq!(
            check_hash("scrypt:32768:8:1$saltsalt$abcdef"),
            Err("cannot verify (scrypt), user must reset their password".to_owned())
        );
        assert_eq!(
            check_hash("pbkdf2:sha1:260000$salt$abcdef"),
            Err("cannot verify (pbkdf2:sha1), user must reset their password".to_owned())
        );
        let plain = check_hash("hunter2").expect_err("plain text");
        assert!(!plain.contains("hunter2"), "{plain}");
        assert!(check_hash("").is_err());
        assert!(
            check_hash("pbkdf2:sha256:1000$salt$nothex")
                .expect_err("bad hex")
                .starts_with("malformed pbkdf2:sha256")
        );
        assert_eq!(
            check_hash(
                "pbkdf2:sha256:1000$abcdefghijklmnop$\
                 b2443c0df37736fc59aed4783ee8904c248ba8cd98ccdfdaa46a3b89739cd13b"
            ),
            Ok(())
        );
    }
}
