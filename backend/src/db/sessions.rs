//! Queries on `sessions`. Rows are found by the SHA-256 of the cookie's key, never the key.

use diesel::prelude::*;

use super::Conn;
use super::schema::sessions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i32,
    pub public_id: String,
    pub user_id: i32,
    pub state: String,
    pub remember: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub public_id: &'a str,
    pub key_hash: &'a str,
    pub user_id: i32,
    pub state: &'a str,
    pub remember: bool,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut Conn, session: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// The session check of every authenticated request, so it runs on the backend's own connection
/// type: Diesel then reuses the prepared statement instead of translating and preparing the
/// query through the multi-backend layer each time.
pub fn find_by_key_hash(conn: &mut Conn, key_hash: &str) -> QueryResult<Option<SessionRow>> {
    macro_rules! find {
        ($conn:expr) => {
            sessions::table
                .filter(sessions::key_hash.eq(key_hash))
                .select(SessionRow::as_select())
                .first($conn)
                .optional()
        };
    }
    match conn {
        Conn::Sqlite(c) => find!(c),
        Conn::Postgres(c) => find!(c),
    }
}

/// Replaces the state of a live session; returns false when the row is gone (revoked meanwhile):
/// a revoked session is never brought back.
pub fn update_state(conn: &mut Conn, key_hash: &str, state: &str) -> QueryResult<bool> {
    diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash)))
        .set(sessions::state.eq(state))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn touch(conn: &mut Conn, id: i32, at: i64) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(at))
        .execute(conn)
        .map(|_| ())
}

pub fn delete_by_key_hash(conn: &mut Conn, key_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)
}

pub fn delete_by_id(conn: &mut Conn, id: i32) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id)).execute(conn)
}

/// Deletes sessions past their absolute expiry or idle for longer than `idle_secs`.
pub fn delete_expired(conn: &mut Conn, now: i64, idle_secs: i64) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now.saturating_sub(idle_secs))),
        ),
    )
    .execute(conn)
}

/// The user's sessions that are live at `now` (neither past their absolute expiry nor idle for
/// `idle_secs`), oldest first.
pub fn live_for_user(
    conn: &mut Conn,
    user_id: i32,
    now: i64,
    idle_secs: i64,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now.saturating_sub(idle_secs)))
        .order(sessions::id.asc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Deletes one session of the user by its public id; returns whether it existed.
pub fn delete_one_for_user(conn: &mut Conn, user_id: i32, public_id: &str) -> QueryResult<bool> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::public_id.eq(public_id)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Deletes every session of the user except `keep` (a public id; `None` keeps none); returns
/// how many.
pub fn delete_others(conn: &mut Conn, user_id: i32, keep: Option<&str>) -> QueryResult<usize> {
    let Some(keep) = keep else {
        return delete_for_user(conn, user_id);
    };
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::public_id.ne(keep)),
    )
    .execute(conn)
}

/// Deletes every session of a user (an administrator's logout or password reset).
pub fn delete_for_user(conn: &mut Conn, user_id: i32) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Sessions neither past their absolute expiry nor idle for `idle_secs`: the complement of
/// [`delete_expired`].
pub fn count_live(conn: &mut Conn, now: i64, idle_secs: i64) -> QueryResult<i64> {
    sessions::table
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now.saturating_sub(idle_secs)))
        .count()
        .get_result(conn)
}

/// Live sessions per user id (users without any are absent).
pub fn count_live_by_user(
    conn: &mut Conn,
    now: i64,
    idle_secs: i64,
) -> QueryResult<Vec<(i32, i64)>> {
    sessions::table
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now.saturating_sub(idle_secs)))
        .group_by(sessions::user_id)
        .select((sessions::user_id, diesel::dsl::count_star()))
        .load(conn)
}
