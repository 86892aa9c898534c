//! Queries on `totp_factors`, `recovery_codes` and `pending_logins`: a user's second factor and
//! the logins waiting for it. Every decision that must hold across instances (a time step used
//! once, a recovery code spent once, a pending login finished once) is one conditional write
//! whose row count decides.

use diesel::prelude::*;

use super::Conn;
use super::schema::{pending_logins, recovery_codes, totp_factors};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
pub struct TotpRow {
    pub user_id: i32,
    pub secret_sealed: Vec<u8>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_used_step: Option<i64>,
}

/// The user's TOTP factor, confirmed or still being enrolled.
pub fn find_totp(conn: &mut Conn, user_id: i32) -> QueryResult<Option<TotpRow>> {
    totp_factors::table
        .find(user_id)
        .select(TotpRow::as_select())
        .get_result(conn)
        .optional()
}

/// Starts (or restarts) an enrolment: an unconfirmed factor with this sealed secret. Returns
/// `false`, writing nothing, when the user already has a confirmed factor.
pub fn begin_enrolment(
    conn: &mut Conn,
    user_id: i32,
    secret_sealed: &[u8],
    now: i64,
) -> QueryResult<bool> {
    diesel::delete(
        totp_factors::table
            .find(user_id)
            .filter(totp_factors::confirmed_at.is_null()),
    )
    .execute(conn)?;
    let confirmed = totp_factors::table
        .find(user_id)
        .select(totp_factors::user_id)
        .get_result::<i32>(conn)
        .optional()?
        .is_some();
    if confirmed {
        return Ok(false);
    }
    diesel::insert_into(totp_factors::table)
        .values((
            totp_factors::user_id.eq(user_id),
            totp_factors::secret_sealed.eq(secret_sealed),
            totp_factors::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Turns the enrolment on with its first code's step (so that code cannot be used again).
/// `false` when there was no unconfirmed enrolment (confirmed meanwhile, or turned off).
pub fn confirm(conn: &mut Conn, user_id: i32, step: i64, now: i64) -> QueryResult<bool> {
    diesel::update(
        totp_factors::table
            .find(user_id)
            .filter(totp_factors::confirmed_at.is_null()),
    )
    .set((
        totp_factors::confirmed_at.eq(now),
        totp_factors::last_used_step.eq(step),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Spends time step `step` of the user's confirmed factor: `true` only for the first caller,
/// and only for a step newer than the last one used (on any instance).
pub fn use_step(conn: &mut Conn, user_id: i32, step: i64) -> QueryResult<bool> {
    diesel::update(
        totp_factors::table
            .find(user_id)
            .filter(totp_factors::confirmed_at.is_not_null())
            .filter(
                totp_factors::last_used_step
                    .is_null()
                    .or(totp_factors::last_used_step.lt(step)),
            ),
    )
    .set(totp_factors::last_used_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Removes the user's TOTP factor (confirmed or not); whether there was one.
pub fn delete_totp(conn: &mut Conn, user_id: i32) -> QueryResult<bool> {
    diesel::delete(totp_factors::table.find(user_id))
        .execute(conn)
        .map(|n| n > 0)
}

/// Replaces the user's recovery codes with these hashes.
pub fn replace_recovery_codes(
    conn: &mut Conn,
    user_id: i32,
    hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    delete_recovery_codes(conn, user_id)?;
    // One row at a time: a multi-row insert is not available over both backends at once (and
    // this is ten rows, once in a while).
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends the user's unused recovery code with this hash: `true` only for the first caller.
pub fn use_recovery_code(
    conn: &mut Conn,
    user_id: i32,
    code_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// How many of the user's recovery codes are still unused.
pub fn unused_recovery_codes(conn: &mut Conn, user_id: i32) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

pub fn delete_recovery_codes(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)
}

/// The ids of the users, among all, whose TOTP factor is on (for the admin's listing).
pub fn users_with_totp(conn: &mut Conn) -> QueryResult<Vec<i32>> {
    totp_factors::table
        .filter(totp_factors::confirmed_at.is_not_null())
        .select(totp_factors::user_id)
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pending_logins)]
pub struct PendingRow {
    pub id: i32,
    pub user_id: i32,
    pub remember: bool,
    pub expires_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = pending_logins)]
pub struct NewPending<'a> {
    pub token_hash: &'a str,
    pub user_id: i32,
    pub remember: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_pending(conn: &mut Conn, new: &NewPending<'_>) -> QueryResult<()> {
    diesel::insert_into(pending_logins::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}

/// The pending login of this token, unless it has expired.
pub fn find_pending(
    conn: &mut Conn,
    token_hash: &str,
    now: i64,
) -> QueryResult<Option<PendingRow>> {
    pending_logins::table
        .filter(pending_logins::token_hash.eq(token_hash))
        .filter(pending_logins::expires_at.gt(now))
        .select(PendingRow::as_select())
        .get_result(conn)
        .optional()
}

/// Ends a pending login: `true` only for the first caller (it is finished once).
pub fn delete_pending(conn: &mut Conn, id: i32) -> QueryResult<bool> {
    diesel::delete(pending_logins::table.find(id))
        .execute(conn)
        .map(|n| n == 1)
}

/// Ends every pending login of a user (their factor was reset or turned off).
pub fn delete_pending_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(pending_logins::table.filter(pending_logins::user_id.eq(user_id))).execute(conn)
}

/// Deletes up to `limit` expired pending logins, and unconfirmed enrolments started before
/// `enrolments_before`.
pub fn delete_expired(
    conn: &mut Conn,
    now: i64,
    enrolments_before: i64,
    limit: i64,
) -> QueryResult<usize> {
    let expired: Vec<i32> = pending_logins::table
        .filter(pending_logins::expires_at.le(now))
        .select(pending_logins::id)
        .limit(limit)
        .load(conn)?;
    let pending = if expired.is_empty() {
        0
    } else {
        diesel::delete(pending_logins::table.filter(pending_logins::id.eq_any(expired)))
            .execute(conn)?
    };
    let enrolments = diesel::delete(
        totp_factors::table
            .filter(totp_factors::confirmed_at.is_null())
            .filter(totp_factors::created_at.lt(enrolments_before)),
    )
    .execute(conn)?;
    Ok(pending + enrolments)
}
