//! Queries on `passkeys`, `webauthn_ceremonies` and `users.webauthn_handle`: the credentials a
//! user registered and the ceremonies between their two halves. A ceremony is finished once, on
//! any instance: [`take_ceremony`] deletes the row and only the caller whose delete counted gets
//! its state.

use diesel::prelude::*;

use super::Conn;
use super::schema::{passkeys, users, webauthn_ceremonies};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: i32,
    pub public_id: String,
    pub user_id: i32,
    pub credential_id: String,
    pub credential: String,
    pub name: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = passkeys)]
pub struct NewPasskey<'a> {
    pub public_id: &'a str,
    pub user_id: i32,
    pub credential_id: &'a str,
    pub credential: &'a str,
    pub name: &'a str,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: i64,
}

/// The user's WebAuthn handle, if they have one yet.
pub fn find_handle(conn: &mut Conn, user_id: i32) -> QueryResult<Option<String>> {
    users::table
        .find(user_id)
        .select(users::webauthn_handle)
        .get_result::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Gives the user `handle` unless they have one already; the handle the user has afterwards.
pub fn ensure_handle(conn: &mut Conn, user_id: i32, handle: &str) -> QueryResult<String> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::webauthn_handle.is_null()),
    )
    .set(users::webauthn_handle.eq(handle))
    .execute(conn)?;
    users::table
        .find(user_id)
        .select(users::webauthn_handle.assume_not_null())
        .get_result(conn)
}

/// The user whose WebAuthn handle this is.
pub fn user_by_handle(conn: &mut Conn, handle: &str) -> QueryResult<Option<i32>> {
    users::table
        .filter(users::webauthn_handle.eq(handle))
        .select(users::id)
        .get_result(conn)
        .optional()
}

/// The user's passkeys, oldest first.
pub fn for_user(conn: &mut Conn, user_id: i32) -> QueryResult<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at.asc(), passkeys::id.asc()))
        .select(PasskeyRow::as_select())
        .load(conn)
}

pub fn count_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<i64> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// The passkey with this credential id (base64url), whoever it belongs to.
pub fn by_credential_id(conn: &mut Conn, credential_id: &str) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()
}

/// The user's passkey named `public_id` in URLs.
pub fn find_for_user(
    conn: &mut Conn,
    user_id: i32,
    public_id: &str,
) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::public_id.eq(public_id))
        .filter(passkeys::user_id.eq(user_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
        .optional()
}

/// Inserts a passkey; a credential id registered already is a unique violation.
pub fn insert(conn: &mut Conn, new: &NewPasskey<'_>) -> QueryResult<PasskeyRow> {
    diesel::insert_into(passkeys::table)
        .values(new)
        .execute(conn)?;
    passkeys::table
        .filter(passkeys::public_id.eq(new.public_id))
        .select(PasskeyRow::as_select())
        .get_result(conn)
}

/// What a successful use changes: the stored credential (its counter and backup state) and when
/// it was last used.
#[derive(Debug)]
pub struct Use<'a> {
    pub credential: Option<&'a str>,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub at: i64,
}

/// Records a use of passkey `id`. The counter only moves forward: of two uses verified at the
/// same time on two instances, the one with the lower counter does not overwrite the other.
pub fn record_use(conn: &mut Conn, id: i32, used: &Use<'_>) -> QueryResult<()> {
    let row = passkeys::table.find(id);
    if let Some(credential) = used.credential {
        diesel::update(row.filter(passkeys::sign_count.le(used.sign_count)))
            .set((
                passkeys::credential.eq(credential),
                passkeys::sign_count.eq(used.sign_count),
                passkeys::backup_eligible.eq(used.backup_eligible),
                passkeys::backed_up.eq(used.backed_up),
            ))
            .execute(conn)?;
    }
    diesel::update(row)
        .set(passkeys::last_used_at.eq(used.at))
        .execute(conn)
        .map(|_| ())
}

/// Renames the user's passkey; `None` when it is not theirs (or gone).
pub fn rename(
    conn: &mut Conn,
    user_id: i32,
    public_id: &str,
    name: &str,
) -> QueryResult<Option<PasskeyRow>> {
    let n = diesel::update(
        passkeys::table
            .filter(passkeys::public_id.eq(public_id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    find_for_user(conn, user_id, public_id)
}

/// Deletes the user's passkey; whether it was there.
pub fn delete(conn: &mut Conn, user_id: i32, public_id: &str) -> QueryResult<bool> {
    diesel::delete(
        passkeys::table
            .filter(passkeys::public_id.eq(public_id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// Deletes every passkey of the user; how many.
pub fn delete_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)
}

/// How many passkeys each user has, for the users that have any (the admin's listing).
pub fn counts(conn: &mut Conn) -> QueryResult<Vec<(i32, i64)>> {
    passkeys::table
        .group_by(passkeys::user_id)
        .select((passkeys::user_id, diesel::dsl::count_star()))
        .load(conn)
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct NewCeremony<'a> {
    pub token_hash: &'a str,
    pub kind: &'a str,
    pub user_id: Option<i32>,
    pub state: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_ceremony(conn: &mut Conn, new: &NewCeremony<'_>) -> QueryResult<()> {
    diesel::insert_into(webauthn_ceremonies::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}

/// A ceremony taken for its finish.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct CeremonyRow {
    pub id: i32,
    pub kind: String,
    pub user_id: Option<i32>,
    pub state: String,
    pub expires_at: i64,
}

/// Takes the ceremony of this token for its finish: the row is deleted, and its state returned
/// only to the caller whose delete counted (a replay, on any instance, finds nothing). An
/// expired ceremony is deleted too, and is nothing.
pub fn take_ceremony(
    conn: &mut Conn,
    token_hash: &str,
    now: i64,
) -> QueryResult<Option<CeremonyRow>> {
    let Some(row) = webauthn_ceremonies::table
        .filter(webauthn_ceremonies::token_hash.eq(token_hash))
        .select(CeremonyRow::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let taken = diesel::delete(webauthn_ceremonies::table.find(row.id)).execute(conn)? == 1;
    Ok((taken && row.expires_at > now).then_some(row))
}

/// Ends every ceremony of a user (their passkeys were reset).
pub fn delete_ceremonies_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::user_id.eq(user_id)))
        .execute(conn)
}

/// Deletes up to `limit` expired ceremonies (started and never finished).
pub fn delete_expired_ceremonies(conn: &mut Conn, now: i64, limit: i64) -> QueryResult<usize> {
    let expired: Vec<i32> = webauthn_ceremonies::table
        .filter(webauthn_ceremonies::expires_at.le(now))
        .select(webauthn_ceremonies::id)
        .limit(limit)
        .load(conn)?;
    if expired.is_empty() {
        return Ok(0);
    }
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::id.eq_any(expired)))
        .execute(conn)
}
